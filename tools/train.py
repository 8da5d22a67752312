"""Train a detector from a config with mmengine's Runner.

The command-line front end is :mod:`ssdkit.cli.train` (also ``ssdkit train``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("train")
