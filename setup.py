"""Packaging beside setup.cfg: the wheel carries a copy of ``configs/`` as ``ssdkit/.mim/configs`` (as mmdetection
ships its configs), made at build time so the repo keeps one copy."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithConfigs(build_py):
    """``build_py`` that also copies ``configs/`` (``*.py`` and ``README.md``, ``_base_/`` included) into the built
    package's ``.mim/configs``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the clone's configs/
            return
        target = Path(self.build_lib) / "ssdkit" / ".mim" / "configs"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "configs", target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithConfigs})
