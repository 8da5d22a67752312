"""Plugin loading: ``ssdkit.plugins`` entry points and ``custom_imports`` module lists."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from mmengine.logging import print_log

from .origins import register_origin

ENTRY_POINT_GROUP = "ssdkit.plugins"
_loaded = False


def add_plugin_search_path() -> None:
    """Let ``custom_imports`` find modules in the working directory, and in the checkout's ``plugins/`` folder
    when ssdkit runs from a checkout (``plugins.focal_loss`` from any directory)."""
    checkout = Path(__file__).resolve().parents[2]
    for path in ([str(checkout)] if (checkout / "plugins").is_dir() else []) + [os.getcwd()]:
        if path not in sys.path:
            sys.path.insert(0, path)


def load_plugins(force: bool = False) -> list[str]:
    """Import every installed package's ``ssdkit.plugins`` entry point, once; returns their names.

    A broken entry point raises ``ImportError`` naming it, and the next call tries again.
    """
    global _loaded
    if _loaded and not force:
        return []
    _loaded = True  # set first: a plugin that builds from a registry while importing must not recurse
    names = []
    try:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            module_name = ep.value.split(":")[0].strip()
            dist = getattr(ep, "dist", None)
            register_origin(module_name, ep.name + (f" [{dist.name}]" if dist is not None else ""))
            try:
                loaded = ep.load()
                if callable(loaded) and not isinstance(loaded, type):
                    loaded()
            except Exception as err:  # a broken plugin must say which one it is
                raise ImportError(
                    f"ssdkit plugin entry point '{ep.name}' ({ep.value}"
                    + (f", from package {dist.name}" if dist is not None else "")
                    + f") in group '{ENTRY_POINT_GROUP}' failed to import: {err}"
                ) from err
            names.append(ep.name)
    except BaseException:
        _loaded = False
        raise
    return names


def import_custom_modules(modules: list[str], allow_failed_imports: bool = False) -> None:
    """Import ``custom_imports``-style module names, recording each as a plugin origin."""
    for name in modules:
        if not (name == "ssdkit" or name.startswith("ssdkit.")):
            register_origin(name, name)
        try:
            importlib.import_module(name)
        except ImportError as err:
            if allow_failed_imports:
                print_log(
                    f"custom_imports: failed to import '{name}' ({err}); skipped",
                    logger="current",
                    level=logging.WARNING,
                )
                continue
            raise ImportError(
                f"custom_imports: cannot import '{name}' ({err}). Modules are imported by name from the "
                f"working directory or installed packages, e.g. 'plugins.focal_loss'."
            ) from err


def apply_custom_imports(cfg: Mapping[str, Any]) -> list[str]:
    """Import a config's ``custom_imports = dict(imports=[...], allow_failed_imports=False)``."""
    custom = cfg.get("custom_imports") or {}
    imports = custom.get("imports", [])
    if isinstance(imports, str):
        imports = [imports]
    import_custom_modules(list(imports), bool(custom.get("allow_failed_imports", False)))
    return list(imports)
