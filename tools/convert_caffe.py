"""Convert a released Caffe model to an ssdkit checkpoint (no Caffe needed).

The command-line front end is :mod:`ssdkit.cli.convert_caffe` (also ``ssdkit convert-caffe``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("convert_caffe")
