"""Small helpers every layer may use (stdlib and torch only)."""
