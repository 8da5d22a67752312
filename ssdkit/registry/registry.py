"""An mmengine ``Registry`` whose errors name the registry, the entry and what is valid."""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Generator
from contextlib import contextmanager
from importlib import import_module
from typing import Any

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import DefaultScope, Registry
from mmengine.utils import ManagerMixin

from .origins import origin_of
from .plugins import load_plugins


class RegistryKeyError(KeyError):
    """A ``KeyError`` whose message prints as written (``KeyError`` would show its repr)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


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


def _qualified_name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _source_file(obj: Any) -> str | None:
    try:
        return inspect.getsourcefile(obj)
    except (TypeError, OSError):
        return None


def _same_definition(a: Any, b: Any) -> bool:
    """One definition seen twice: a module reloaded, or one file imported under two module names."""
    if getattr(a, "__qualname__", None) != getattr(b, "__qualname__", None):
        return False
    if getattr(a, "__module__", None) == getattr(b, "__module__", None):
        return True
    source = _source_file(a)
    return source is not None and source == _source_file(b)


def _is_missing(err: ModuleNotFoundError, location: str) -> bool:
    """True if ``err`` says ``location`` itself (or a package above it) does not exist."""
    return err.name is not None and (location == err.name or location.startswith(err.name + "."))


class SSDRegistry(Registry):
    """Registry with helpful errors.

    * an unknown ``type`` names the registry, lists its entries and suggests the closest one;
    * a wrong keyword argument names the component and the arguments it accepts;
    * two different objects registered under one name fail naming both origins.

    Building from an ssdkit registry always looks in that registry (then its parents), whatever
    mmengine's default scope is; ``_scope_`` in a config still switches on purpose.
    """

    def __init__(self, *args: Any, display_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.display_name = display_name or self.name  # the Python name (``MATCHERS``), set by ``root.py``
        self._imported: bool = getattr(self, "_imported", False)

    def import_from_location(self) -> None:
        """Import this kind's ssdkit modules (a location that does not exist yet is skipped), then
        installed ``ssdkit.plugins`` entry points."""
        if not self._imported:
            for loc in self._locations:
                try:
                    import_module(loc)
                except ModuleNotFoundError as err:
                    if not _is_missing(err, loc):
                        raise
                    print_log(
                        f"ssdkit {self.display_name}: location '{loc}' does not exist, skipped",
                        logger="current",
                        level=logging.DEBUG,
                    )
            self._imported = True
        load_plugins()

    def known_names(self) -> list[str]:
        self.import_from_location()
        return sorted(self._module_dict)

    def unknown_type_error(self, name: str) -> KeyError:
        names = self.known_names()
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        listing = ", ".join(names) if names else "(nothing registered)"
        return RegistryKeyError(
            f"'{name}' is not in the ssdkit {self.display_name} registry (scope '{self.scope}').{hint} "
            f"Registered there: {listing}. Plugins add entries through `custom_imports` in the config, "
            f"the `plugins/` folder or the `ssdkit.plugins` entry point."
        )

    @contextmanager
    def switch_scope_and_registry(self, scope: str | None) -> Generator[Registry, None, None]:
        if scope is None:
            yield self
        elif scope == self.scope:
            with DefaultScope.overwrite_default_scope(scope):
                yield self
        else:
            with super().switch_scope_and_registry(scope) as registry:
                yield registry

    def build(self, cfg: Any, *args: Any, **kwargs: Any) -> Any:
        default_args = kwargs.get("default_args")
        if not isinstance(cfg, (dict, Config)) or ("type" not in cfg and "type" not in (default_args or {})):
            raise TypeError(
                f"building from the {self.display_name} registry needs a dict with a 'type' key, got {cfg!r}"
            )
        merged = dict(default_args or {})
        merged.update(cfg)
        if merged.pop("_scope_", None) not in (None, self.scope):
            return super().build(cfg, *args, **kwargs)  # another package's registry, on purpose
        obj_type = merged.pop("type")
        obj = obj_type
        if isinstance(obj_type, str):
            scope, key = Registry.split_scope_key(obj_type)
            obj = self.get(obj_type)
            if obj is None and (scope is None or scope == self.scope):
                raise self.unknown_type_error(key)
        if obj is not None:
            self._check_arguments(obj, merged)
        return super().build(cfg, *args, **kwargs)

    def _check_arguments(self, obj: Any, arguments: dict) -> None:
        """Raise a ``TypeError`` naming ``obj`` and what it accepts if it cannot take ``arguments``."""
        if inspect.isclass(obj) and issubclass(obj, ManagerMixin):
            return  # built through get_instance(name, **kwargs)
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            return
        try:
            signature.bind(**arguments)
        except TypeError as err:
            accepted = accepted_arguments(obj)
            hints = []
            for given in arguments:
                if given not in signature.parameters:
                    close = difflib.get_close_matches(given, accepted, n=1, cutoff=0.6)
                    if close:
                        hints.append(f" Did you mean '{close[0]}' instead of '{given}'?")
            raise TypeError(
                f"cannot build {self.display_name} entry '{getattr(obj, '__name__', obj)}' "
                f"({_qualified_name(obj)}): {err}. Given: {sorted(arguments)}; it accepts: {accepted}." + "".join(hints)
            ) from None

    def _register_module(self, module: Any, module_name: Any = None, force: bool = False) -> None:
        names = (
            [module.__name__]
            if module_name is None
            else ([module_name] if isinstance(module_name, str) else list(module_name))
        )
        replace = force
        for name in names:
            existing = self._module_dict.get(name)
            if existing is None or force:
                continue
            if existing is not module and not _same_definition(existing, module):
                raise RegistryKeyError(
                    f"'{name}' is registered twice in the ssdkit {self.display_name} registry: by "
                    f"{origin_of(existing)} ({_qualified_name(existing)}) and by {origin_of(module)} "
                    f"({_qualified_name(module)}). Rename one of them, or pass force=True to "
                    f"register_module to replace on purpose."
                )
            replace = True  # the same object, or the same file imported twice: keep the newest
        super()._register_module(module, names, replace)
