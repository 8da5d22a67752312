"""Configs found by name: ``ssd300_vgg16_voc0712`` is ``configs/ssd300_vgg16_voc0712.py`` of a clone, or the copy an
installed ssdkit carries in ``ssdkit/.mim/configs/`` (written there when the wheel is built, as mmdetection does).

A name may carry ``.py`` and a folder (``examples/custom_voc``, ``demo/ssdlite224_mobilenet_demo.py``); a path to a
file that exists is taken as it is.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import ssdkit

PACKAGE_DIR = Path(ssdkit.__file__).resolve().parent
#: the packaged copy of configs/, present in an installed wheel
PACKAGED_CONFIGS = PACKAGE_DIR / ".mim" / "configs"
#: configs/ of a clone (the folder beside the package, when the package is a checkout's)
CLONE_CONFIGS = PACKAGE_DIR.parent / "configs"


def configs_dir() -> Path:
    """The clone's ``configs/`` when ssdkit runs from a clone, else the packaged copy."""
    if (CLONE_CONFIGS / "_base_").is_dir() and (PACKAGE_DIR.parent / "setup.cfg").is_file():
        return CLONE_CONFIGS
    return PACKAGED_CONFIGS


def list_configs(root: Path | None = None) -> list[str]:
    """Every config name under ``root`` (default :func:`configs_dir`) without ``.py``, ``_base_`` left out: the
    top-level ones first, then ``folder/name``."""
    root = root or configs_dir()
    if not root.is_dir():
        return []
    names = [p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.py")]
    names = [n for n in names if not n.startswith("_base_/")]
    return sorted(names, key=lambda n: (n.count("/"), n))


def find_config(name_or_path: str) -> str:
    """The file a config argument names: an existing path as it is; otherwise a config name (``.py`` optional)
    in :func:`configs_dir`.

    Raises ``FileNotFoundError`` with one line naming the closest config names.
    """
    if Path(name_or_path).is_file():
        return name_or_path
    root = configs_dir()
    stem = name_or_path.removeprefix("ssdkit::").removeprefix("configs/").removesuffix(".py")
    for candidate in (root / f"{stem}.py", *(root / d / f"{stem}.py" for d in ("examples", "demo"))):
        if candidate.is_file() and "_base_" not in candidate.relative_to(root).parts:
            return str(candidate)
    names = list_configs(root)
    close = difflib.get_close_matches(stem, names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise FileNotFoundError(
        f"config file '{name_or_path}' does not exist, nor is it one of ssdkit's {len(names)} config names "
        f"(in {root}; `ssdkit list` prints them){hint}"
    )
