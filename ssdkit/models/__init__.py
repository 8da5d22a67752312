"""ssdkit.models (arrives with a later issue)."""
