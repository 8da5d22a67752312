"""Write training-pipeline outputs with their boxes drawn, to check data and augmentation by eye.

The command-line front end is :mod:`ssdkit.cli.browse_dataset` (also ``ssdkit browse-dataset``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("browse_dataset")
