"""Print feature-map sizes, prior count, head outputs, parameters, GFLOPs and backbone weights of configs.

The command-line front end is :mod:`ssdkit.cli.model_info` (also ``ssdkit model-info``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("model_info")
