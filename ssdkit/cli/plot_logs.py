"""Plot training curves from mmengine's scalars.json (WORK_DIR/<timestamp>/vis_data/scalars.json) over iterations:
one subplot per key, the runs overlaid; a resumed run's timestamp folders are joined. Prints a one-line summary per
run and key (first, last, min and max with their iterations).

    python tools/plot_logs.py WORK_DIR [WORK_DIR ...] [--keys loss loss_cls lr mAP] [--out curves.png]

A key matches a logged name exactly or as its last part after '/' (mAP matches pascal_voc/mAP).
"""

from __future__ import annotations

import argparse

from ssdkit.analysis.logs import DEFAULT_KEYS, Curve, LogError, load_runs, select_curves, summary_line
from ssdkit.engine.config import one_line_errors
from ssdkit.visualization import plot_curves


def main(argv: list[str] | None = None) -> list[Curve]:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="An error is printed as one line; set SSDKIT_DEBUG=1 for the full traceback.",
    )
    ap.add_argument(
        "work_dirs",
        nargs="+",
        metavar="WORK_DIR",
        help="work dirs of training runs (or one of their timestamp folders)",
    )
    ap.add_argument(
        "--keys",
        nargs="+",
        help=f"scalars to plot, one subplot each (default: those of {' '.join(DEFAULT_KEYS)} that were logged)",
    )
    ap.add_argument(
        "--out", default="curves.png", help="the picture to write (format from the suffix; default %(default)s)"
    )
    ap.add_argument("--title", help="the figure's title")
    args = ap.parse_args(argv)
    with one_line_errors(FileNotFoundError, LogError, ImportError):
        runs = load_runs(args.work_dirs)
        keys = args.keys or list(DEFAULT_KEYS)
        curves = select_curves(runs, keys, missing_ok=args.keys is None)
        out = plot_curves(curves, args.out, args.title)
    for key in dict.fromkeys(c.key for c in curves):
        for run in runs:
            mine = [c for c in curves if c.key == key and c.run == run.label]
            for c in mine:
                print(summary_line(c))
            if not mine:
                print(f"{run.label}  {key}: not logged")
    print(f"{len(runs)} run{'s' if len(runs) > 1 else ''}, {len(curves)} curves -> {out}")
    return curves
