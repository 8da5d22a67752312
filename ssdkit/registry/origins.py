"""Where registered objects come from: ssdkit itself, or a named plugin (import-free)."""

from __future__ import annotations

from typing import Any

ORIGINS: dict[str, str] = {}  # module prefix -> plugin name


def register_origin(module_prefix: str, plugin_name: str) -> None:
    """Record that modules under ``module_prefix`` belong to ``plugin_name`` (for listings and errors)."""
    ORIGINS[module_prefix] = plugin_name


def origin_of(obj: Any) -> str:
    """Where a registered object came from: ``'ssdkit'`` or ``'plugin <name> (<module>)'``."""
    module = getattr(obj, "__module__", "") or ""
    if module == "ssdkit" or module.startswith("ssdkit."):
        return "ssdkit"
    best = max((p for p in ORIGINS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is not None and ORIGINS[best] != module:
        return f"plugin {ORIGINS[best]} ({module})"
    return f"plugin {module}" if module else "unknown"
