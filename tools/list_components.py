"""List every ssdkit registry, its entries and where each came from (ssdkit or a plugin).

The command-line front end is :mod:`ssdkit.cli.list_components` (also ``ssdkit list-components``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("list_components")
