"""Plugin loading: ``ssdkit.plugins`` entry points and ``custom_imports`` module lists."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from .registry import _ORIGINS

ENTRY_POINT_GROUP = "ssdkit.plugins"
_loaded = False


def register_origin(module_prefix: str, plugin_name: str) -> None:
    """Record that modules under ``module_prefix`` belong to ``plugin_name`` (for listings and errors)."""
    _ORIGINS[module_prefix] = plugin_name


def load_plugins(force: bool = False) -> list[str]:
    """Import every installed package's ``ssdkit.plugins`` entry point, once; returns their names."""
    global _loaded
    if _loaded and not force:
        return []
    _loaded = True
    names = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        module_name = ep.value.split(":")[0]
        dist = getattr(ep, "dist", None)
        register_origin(module_name, f"{ep.name}" + (f" [{dist.name}]" if dist is not None else ""))
        try:
            loaded = ep.load()
        except Exception as err:  # a broken plugin must say which one it is
            raise ImportError(
                f"ssdkit plugin entry point '{ep.name}' ({ep.value}) in group '{ENTRY_POINT_GROUP}' failed to "
                f"import: {err}") from err
        if callable(loaded) and not isinstance(loaded, type):
            loaded()
        names.append(ep.name)
    return names


def import_custom_modules(modules: list[str]) -> None:
    """Import ``custom_imports``-style module names, recording each as a plugin origin."""
    for name in modules:
        if not (name == "ssdkit" or name.startswith("ssdkit.")):
            register_origin(name, name)
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ImportError(
                f"custom_imports: cannot import '{name}' ({err}). Modules are imported by name from the "
                f"working directory or installed packages, e.g. 'plugins.focal_loss'.") from err
