"""Can the config's priors match the dataset's objects? Coverage by size and shape, positives per level, a fit.

The command-line front end is :mod:`ssdkit.cli.analyze_priors` (also ``ssdkit analyze-priors``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("analyze_priors")
