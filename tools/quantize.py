"""Int8 post-training quantization of a trained detector (OpenVINO via NNCF, or ONNX Runtime), decoding and NMS
left float32.

The command-line front end is :mod:`ssdkit.cli.quantize` (also ``ssdkit quantize``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("quantize")
