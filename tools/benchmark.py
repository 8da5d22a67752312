"""Per-stage speed of a config's detector on this machine: data loading, preprocessing, backbone, neck, head,

The command-line front end is :mod:`ssdkit.cli.benchmark` (also ``ssdkit benchmark``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("benchmark")
