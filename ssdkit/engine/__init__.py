"""Runner set-up, safe checkpoints, distributed helpers."""

from .checkpoint import CheckpointError, adopt_trained_priors, check_checkpoint, install_safe_checkpoints
from .checks import ConfigError, check_config, check_loaders, check_model, wire_num_classes
from .recipe import wire_expand_fill
from .runner import build_runner, exit_distributed_worker, finish_distributed, prepare_config, register_all

__all__ = [
    "CheckpointError",
    "ConfigError",
    "adopt_trained_priors",
    "build_runner",
    "check_checkpoint",
    "check_config",
    "check_loaders",
    "check_model",
    "exit_distributed_worker",
    "finish_distributed",
    "install_safe_checkpoints",
    "prepare_config",
    "register_all",
    "wire_expand_fill",
    "wire_num_classes",
]
