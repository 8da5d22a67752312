"""Detect objects in images, folders or a video; write drawn images and a json of detections (README, "Train,

The command-line front end is :mod:`ssdkit.cli.infer` (also ``ssdkit infer``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("infer")
