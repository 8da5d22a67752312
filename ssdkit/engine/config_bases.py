"""A config's ``_base_`` paths resolved for a copy of the config outside ``configs/``.

The example configs name their bases relative to their own folder (``../_base_/models/...``). A user copies one
to ``configs/my_data.py`` or into their own project, where those paths lead nowhere. :func:`resolve_bases` then
looks each missing base up in ssdkit's ``configs/`` folder and its subfolders, by its path with the leading ``./``
and ``../`` taken off, and writes a copy of the config whose ``_base_`` paths are absolute.
"""

from __future__ import annotations

import ast
import atexit
import shutil
import tempfile
from pathlib import Path

import ssdkit

CONFIGS_DIR = Path(ssdkit.__file__).resolve().parents[1] / "configs"


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
    if not parts or not CONFIGS_DIR.is_dir():
        return None
    folders = [CONFIGS_DIR, *sorted(d for d in CONFIGS_DIR.iterdir() if d.is_dir())]
    return next((f.joinpath(*parts) for f in folders if f.joinpath(*parts).is_file()), None)


def resolve_bases(path: str) -> str:
    """``path`` itself when every ``_base_`` of it exists relative to it; otherwise a temporary copy (same file
    name) whose ``_base_`` paths are absolute, each missing one taken from ssdkit's ``configs/``.

    Raises ``FileNotFoundError`` with one line naming the base and what to write instead when a base is found in
    neither place.
    """
    source = Path(path).read_text()
    folder = Path(path).resolve().parent
    resolved: dict[ast.Constant, Path] = {}
    moved = False
    for const, base in _base_strings(source):
        if "::" in base:  # a package path (mmdet::...), mmengine's business
            continue
        here = folder / base
        if here.is_file():
            resolved[const] = here.resolve()
            continue
        found = _in_configs_dir(base)
        if found is None:
            raise FileNotFoundError(
                f"config '{path}': _base_ '{base}' exists neither relative to the config nor in "
                f"{CONFIGS_DIR}; write it relative to the config's folder or as an absolute path"
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
