"""Loading a config the way every ssdkit tool does: custom imports, command-line overrides, launcher, work dir."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmengine.config import Config, DictAction

from ssdkit.registry.plugins import add_plugin_search_path

from .checks import refuse_unread_options
from .config_bases import resolve_bases
from .config_names import find_config


def add_config_args(ap: argparse.ArgumentParser) -> None:
    """The arguments every config-driven tool takes: ``config``, ``--work-dir``, ``--cfg-options``, ``--launcher``."""
    ap.add_argument("config", help="a config file, or the name of one of ssdkit's configs (`ssdkit list`)")
    ap.add_argument("--work-dir", help="where logs and checkpoints go (default work_dirs/<config name>)")
    ap.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config keys, k=v")
    ap.add_argument("--launcher", choices=["none", "pytorch"], default="none")


def load_config(
    path: str, cfg_options: dict | None = None, launcher: str = "none", work_dir: str | None = None
) -> Config:
    """``path`` with ``cfg_options`` merged, ``launcher`` set and ``work_dir`` (default ``work_dirs/<config name>``).

    ``path`` may be a config name (``ssd300_vgg16_voc0712``, :func:`ssdkit.engine.config_names.find_config`).
    ``custom_imports`` resolve against the working directory and a checkout's ``plugins/`` folder
    (:func:`ssdkit.registry.plugins.add_plugin_search_path`). A ``_base_`` not found next to the config is taken
    from ssdkit's ``configs/`` (:func:`ssdkit.engine.config_bases.resolve_bases`), so a copy of an example works
    in ``configs/`` or in a project folder.
    """
    add_plugin_search_path()
    path = find_config(path)
    cfg = Config.fromfile(resolve_bases(path))
    if cfg_options:
        refuse_unread_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get("work_dir") or str(Path("work_dirs") / Path(path).stem)
    return cfg


@contextmanager
def one_line_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """The tools' error handling: an exception of ``kinds`` raised inside ends the program with one line,
    ``error: <message>`` (``SSDKIT_DEBUG=1`` keeps the traceback instead)."""
    try:
        yield
    except kinds as err:
        if os.environ.get("SSDKIT_DEBUG"):
            raise
        raise SystemExit(f"error: {err}") from None
