"""Build the bundled demo detection set (digits pasted onto photographs, COCO format).

The command-line front end is :mod:`ssdkit.cli.make_demo_dataset` (also ``ssdkit make-demo-dataset``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("make_demo_dataset")
