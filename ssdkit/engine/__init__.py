"""Runner set-up, safe checkpoints, distributed helpers."""
