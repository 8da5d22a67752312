"""Can the config's priors match the dataset's objects? Coverage by size and shape, positives per level, a fit.

    python tools/analyze_priors.py CONFIG [--split train|val|test] [--out-dir D] [--suggest]
                                   [--input-size H W] [--cfg-options k=v ...]

Reads only the annotations (no image is decoded) and matches on the priors' grid, so it takes seconds.
"""

from __future__ import annotations

import argparse

from ssdkit.engine.config import add_config_args, load_config, one_line_errors


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(ap)
    ap.add_argument("--split", choices=["train", "val", "test"], default="train")
    ap.add_argument("--out-dir", help="write prior_shapes.png, coverage_by_size.png, positives_per_level.png here")
    ap.add_argument(
        "--suggest",
        action="store_true",
        help="fit scales and aspect ratios to the objects (same levels and prior counts)",
    )
    ap.add_argument(
        "--input-size", type=int, nargs=2, metavar=("H", "W"), help="the network input (default: the split's Resize)"
    )
    args = ap.parse_args(argv)
    from ssdkit.analysis.prior_analysis import analyze_priors
    from ssdkit.engine import ConfigError

    with one_line_errors(FileNotFoundError, ValueError, ConfigError, ImportError):
        cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
        result = analyze_priors(cfg, args.split, args.out_dir, args.suggest, args.input_size)
    print(result.text)
    return result
