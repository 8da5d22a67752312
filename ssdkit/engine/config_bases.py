"""A config's ``_base_`` paths resolved for a copy of the config outside ``configs/``.

The example configs name their bases relative to their own folder (``../_base_/models/...``). A user copies one
to ``configs/my_data.py`` or into their own project, where those paths lead nowhere. :func:`resolve_bases` then
looks each missing base up in ssdkit's ``configs/`` folder and its subfolders, by its path with the leading ``./``
and ``../`` taken off, and writes a copy of the config whose ``_base_`` paths are absolute.

A base ``'ssdkit::<path>'`` (e.g. ``'ssdkit::ssdlite300_mobilenet.py'``) names a file of ssdkit's configs (the
clone's ``configs/`` or the installed package's copy, :func:`ssdkit.engine.config_names.configs_dir`). mmengine's
own ``package::`` scope reads ``<package>/.mim/configs`` of an installed distribution only, which an editable
install or a clone does not have, so ssdkit resolves its own scope and leaves other packages' to mmengine.
"""

from __future__ import annotations

import ast
import atexit
import shutil
import tempfile
from pathlib import Path

from .config_names import configs_dir, find_config

SCOPE = "ssdkit::"


def _base_strings(source: str) -> list[tuple[ast.Constant, str]]:
    """The string constants of the module-level ``_base_ = ...`` assignment (a string or a list of them), each with
    its value."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_base_" for t in node.targets):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            return [(v, v.value) for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return []


def _in_configs_dir(base: str) -> Path | None:
    """``base`` with its leading ``./`` and ``../`` taken off, under ssdkit's ``configs/`` or one of its folders
    (``configs/examples/custom_voc.py`` for ``./custom_voc.py``); None when neither has it."""
    parts = list(Path(base).parts)
    while parts and parts[0] in (".", ".."):
        parts.pop(0)
    root = configs_dir()
    if not parts or not root.is_dir():
        return None
    folders = [root, *sorted(d for d in root.iterdir() if d.is_dir())]
    return next((f.joinpath(*parts) for f in folders if f.joinpath(*parts).is_file()), None)


def _scoped(path: str, base: str) -> Path:
    """The file of ssdkit's configs that ``'ssdkit::<name>'`` names; ``FileNotFoundError`` naming it otherwise."""
    found = configs_dir() / base.removeprefix(SCOPE)
    if not found.is_file():
        raise FileNotFoundError(
            f"config '{path}': _base_ '{base}' is not a file of ssdkit's configs ({configs_dir()}; "
            "`ssdkit list` prints their names)"
        )
    return found


def resolve_bases(path: str) -> str:
    """``path`` (a file, or a config name: :func:`ssdkit.engine.config_names.find_config`) itself when every
    ``_base_`` of it exists relative to it; otherwise a temporary copy (same file name) whose ``_base_`` paths are
    absolute, each missing one taken from ssdkit's ``configs/`` (``ssdkit::`` ones always).

    Raises ``FileNotFoundError`` with one line naming the base and what to write instead when a base is found in
    neither place.
    """
    path = find_config(path)
    source = Path(path).read_text()
    folder = Path(path).resolve().parent
    resolved: dict[ast.Constant, Path] = {}
    moved = False
    for const, base in _base_strings(source):
        if base.startswith(SCOPE):
            resolved[const], moved = _scoped(path, base), True
            continue
        if "::" in base:  # another package's path (mmdet::...), mmengine's business
            continue
        here = folder / base
        if here.is_file():
            resolved[const] = here.resolve()
            continue
        found = _in_configs_dir(base)
        if found is None:
            raise FileNotFoundError(
                f"config '{path}': _base_ '{base}' exists neither relative to the config nor in "
                f"{configs_dir()}; write it relative to the config's folder or as an absolute path"
            )
        resolved[const] = found
        moved = True
    if not moved:
        return path
    lines = source.splitlines(keepends=True)
    # replace from the end so earlier offsets stay valid
    for const in sorted(resolved, key=lambda c: (c.lineno, c.col_offset), reverse=True):
        if const.lineno != const.end_lineno or const.end_col_offset is None:
            continue
        line = lines[const.lineno - 1].encode()
        new = line[: const.col_offset] + repr(str(resolved[const])).encode() + line[const.end_col_offset :]
        lines[const.lineno - 1] = new.decode()
    folder_copy = tempfile.mkdtemp(prefix="ssdkit_cfg_")
    atexit.register(shutil.rmtree, folder_copy, ignore_errors=True)
    copy = Path(folder_copy) / Path(path).name
    copy.write_text("".join(lines))
    return str(copy)
