"""ssdkit.data (arrives with a later issue)."""
