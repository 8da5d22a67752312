"""Evaluate a checkpoint (VOC mAP or COCO AP as the config says).

The command-line front end is :mod:`ssdkit.cli.test` (also ``ssdkit test``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("test")
