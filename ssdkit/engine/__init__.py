"""Runner set-up, safe checkpoints, distributed helpers."""

from .checkpoint import install_safe_checkpoints
from .recipe import wire_expand_fill
from .runner import build_runner, finish_distributed, register_all

__all__ = ["build_runner", "finish_distributed", "install_safe_checkpoints", "register_all", "wire_expand_fill"]
