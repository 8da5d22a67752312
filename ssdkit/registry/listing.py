"""What is registered where: the data behind ``tools/list_components.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .origins import origin_of
from .plugins import add_plugin_search_path, apply_custom_imports
from .registry import SSDRegistry
from .root import ALL_REGISTRIES


def load_config_plugins(config: str | Path) -> list[str]:
    """Import the ``custom_imports`` of a config file (see ``add_plugin_search_path``); returns the names."""
    from mmengine.config import Config

    add_plugin_search_path()
    return apply_custom_imports(Config.fromfile(str(config), import_custom_modules=False))


def collect_components(registries: dict[str, SSDRegistry] | None = None) -> dict[str, dict[str, Any]]:
    """``{REGISTRY: {name, scope, entries: {entry: {origin, object}}}}`` for every ssdkit registry."""
    listing = {}
    for key, registry in (ALL_REGISTRIES if registries is None else registries).items():
        entries = {}
        for name in registry.known_names():
            obj = registry.module_dict[name]
            entries[name] = dict(
                origin=origin_of(obj), object=f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"
            )
        listing[key] = dict(name=registry.name, scope=registry.scope, entries=entries)
    return listing


def format_components(listing: dict[str, dict[str, Any]]) -> str:
    """Plain-text table of :func:`collect_components`."""
    lines = []
    for key, info in listing.items():
        lines.append(f"{key} ({info['name']}, scope {info['scope']}): {len(info['entries'])} entries")
        width = max((len(n) for n in info["entries"]), default=0)
        origin_width = max((len(e["origin"]) for e in info["entries"].values()), default=0)
        for name, entry in info["entries"].items():
            lines.append(f"  {name:<{width}}  {entry['origin']:<{origin_width}}  {entry['object']}")
    return "\n".join(lines)
