"""ssdkit.evaluation (arrives with a later issue)."""
