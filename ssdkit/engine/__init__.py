"""ssdkit.engine (arrives with a later issue)."""
