"""Plot training curves from mmengine's scalars.json (WORK_DIR/<timestamp>/vis_data/scalars.json) over iterations:

The command-line front end is :mod:`ssdkit.cli.plot_logs` (also ``ssdkit plot-logs``); see its
``--help``.
"""

from ssdkit.cli.main import run_tool

if __name__ == "__main__":
    run_tool("plot_logs")
