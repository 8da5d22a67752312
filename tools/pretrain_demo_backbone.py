"""Pretrain the demo's backbone: a half-width MobileNetV1 as a digit classifier on the demo's train digits.

The command-line front end is :mod:`ssdkit.cli.pretrain_demo_backbone` (also ``ssdkit pretrain-demo-backbone``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("pretrain_demo_backbone")
