"""Convert torchvision weights to ssdkit checkpoints.

The command-line front end is :mod:`ssdkit.cli.convert_torchvision` (also ``ssdkit convert-torchvision``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("convert_torchvision")
