"""Export a trained detector to ONNX, with decoding and NMS inside (end2end) or raw boxes and scores (raw).

The command-line front end is :mod:`ssdkit.cli.export` (also ``ssdkit export``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("export")
