"""An mmengine ``Registry`` whose errors name the registry, the entry and what is valid."""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from mmengine.registry import Registry

_ORIGINS: dict[str, str] = {}  # module prefix -> plugin name, filled by ssdkit.registry.plugins


def origin_of(obj: Any) -> str:
    """Where a registered object came from: ``'ssdkit'`` or ``'plugin <name> (<module>)'``."""
    module = getattr(obj, "__module__", "") or ""
    if module == "ssdkit" or module.startswith("ssdkit."):
        return "ssdkit"
    best = max((p for p in _ORIGINS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is not None:
        return f"plugin {_ORIGINS[best]} ({module})"
    return f"plugin {module}" if module else "unknown"


def accepted_arguments(obj: Any) -> list[str]:
    """Keyword arguments a class or function accepts (``**kwargs`` shown as such)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    names = []
    for p in params:
        if p.name == "self" or p.kind is p.VAR_POSITIONAL:
            continue
        names.append(f"**{p.name}" if p.kind is p.VAR_KEYWORD else p.name)
    return names


class SSDRegistry(Registry):
    """Registry with helpful errors.

    * an unknown ``type`` names the registry, lists its entries and suggests the closest one;
    * a wrong keyword argument names the component and the arguments it accepts;
    * two different objects registered under one name fail naming both origins.
    """

    def import_from_location(self) -> None:
        """Import ssdkit's own modules for this kind, then installed ``ssdkit.plugins`` entry points."""
        super().import_from_location()
        from .plugins import load_plugins

        load_plugins()

    def known_names(self) -> list[str]:
        self.import_from_location()
        return sorted(self._module_dict)

    def unknown_type_error(self, name: str) -> KeyError:
        names = self.known_names()
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        listing = ", ".join(names) if names else "(nothing registered)"
        return KeyError(
            f"'{name}' is not in the ssdkit {self.name.upper()} registry.{hint} "
            f"Registered there: {listing}. Plugins add entries through `custom_imports` in the config, "
            f"the `plugins/` folder or the `ssdkit.plugins` entry point."
        )

    def build(self, cfg: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise TypeError(
                f"building from the {self.name.upper()} registry needs a dict with a 'type' key, got {cfg!r}"
            )
        obj_type = cfg["type"]
        if isinstance(obj_type, str):
            scope, key = Registry.split_scope_key(obj_type)
            if (scope is None or scope == self.scope) and self.get(obj_type) is None:
                raise self.unknown_type_error(key)
            obj = self.get(obj_type)
        else:
            obj = obj_type
        try:
            return super().build(cfg, *args, **kwargs)
        except TypeError as err:
            if "argument" not in str(err) or obj is None:
                raise
            given = sorted(k for k in cfg if k != "type")
            extra = sorted(kwargs.get("default_args") or {}) if isinstance(kwargs.get("default_args"), dict) else []
            raise TypeError(
                f"cannot build {self.name} '{getattr(obj, '__name__', obj)}': {err}. "
                f"Given: {given + extra}; it accepts: {accepted_arguments(obj)}."
            ) from err

    def _register_module(self, module: Any, module_name: Any = None, force: bool = False) -> None:
        names = [module.__name__] if module_name is None else (
            [module_name] if isinstance(module_name, str) else list(module_name))
        for name in names:
            existing = self._module_dict.get(name)
            if existing is None or existing is module or force:
                continue
            same_def = (getattr(existing, "__module__", None), getattr(existing, "__qualname__", None)) == (
                getattr(module, "__module__", None), getattr(module, "__qualname__", None))
            if same_def:  # the same file imported twice (e.g. by path and by package): keep the newest
                force = True
                continue
            raise KeyError(
                f"'{name}' is registered twice in the ssdkit {self.name.upper()} registry: by "
                f"{origin_of(existing)} ({existing.__module__}.{existing.__qualname__}) and by "
                f"{origin_of(module)} ({module.__module__}.{module.__qualname__}). Rename one of them, "
                f"or pass force=True to register_module to replace on purpose."
            )
        super()._register_module(module, module_name, force)
