"""Build the bundled demo detection set (digits pasted onto photographs, COCO format).

    python tools/make_demo_dataset.py --config configs/demo/ssdlite224_mobilenet_demo.py  # that config's set
    python tools/make_demo_dataset.py --out data/demo [--seed 0] [--num-train 4000] [--num-val 100] [--overwrite]
        [--image-size 320] [--min-px 40] [--max-frac 0.6] [--max-objects 4] [--aspect-range 0.7 1.0]
        [--stroke-contrast 2] [--backdrop-blur 8] [--backdrop-contrast 0.35]

With ``--config``, the set is written to the config's ``data_root`` with the config's ``demo_dataset``
options (so the data and the model's input size and priors cannot disagree); flags given as well
override them. Options not given take ``ssdkit.data.demo.make_demo_dataset``'s defaults.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time

from ssdkit.data.demo import make_demo_dataset
from ssdkit.engine.config import one_line_errors

FLAGS = dict(
    seed=int,
    num_train=int,
    num_val=int,
    image_size=int,
    min_px=float,
    max_frac=float,
    max_objects=int,
    stroke_contrast=float,
    backdrop_blur=float,
    backdrop_contrast=float,
)
HELP = dict(
    image_size="square image side, pixels (320)",
    min_px="smallest pasted digit side, pixels (40)",
    max_frac="largest pasted digit side, fraction of the image (0.6)",
    max_objects="digits per image: 1 .. this (4)",
    stroke_contrast="steeper digit opacity, 1: as interpolated (2)",
    backdrop_blur="Gaussian sigma on the photographs, 0: sharp (8)",
    backdrop_contrast="photograph contrast, 1: as is (0.35)",
)


def options(args: argparse.Namespace) -> tuple[str, dict]:
    """``(out_dir, make_demo_dataset keyword arguments)`` from the config's ``demo_dataset`` and the flags."""
    opts: dict = {}
    out = "data/demo"
    if args.config:
        from mmengine.config import Config

        from ssdkit.engine.config_bases import resolve_bases

        cfg = Config.fromfile(resolve_bases(args.config))
        out = cfg.get("data_root", out)
        opts.update(cfg.get("demo_dataset") or {})
        valid = set(inspect.signature(make_demo_dataset).parameters) - {"out_dir", "overwrite"}
        if unknown := sorted(set(opts) - valid):
            raise SystemExit(
                f"error: {args.config}: demo_dataset.{unknown[0]} is not an option of the demo set; "
                f"valid: {', '.join(sorted(valid))}"
            )
    out = args.out or out
    opts.update({k: getattr(args, k) for k in list(FLAGS) + ["aspect_range"] if getattr(args, k) is not None})
    if isinstance(opts.get("image_size"), int):
        opts["image_size"] = (opts["image_size"], opts["image_size"])
    for key in ("image_size", "aspect_range"):
        if key in opts:
            opts[key] = tuple(opts[key])
    return out, opts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="write the set this config trains on (its data_root and demo_dataset)")
    ap.add_argument("--out", help="output folder (default: the config's data_root, else data/demo)")
    for name, kind in FLAGS.items():
        ap.add_argument("--" + name.replace("_", "-"), type=kind, help=HELP.get(name))
    ap.add_argument("--aspect-range", type=float, nargs=2, help="digit width / height range (0.7 1.0)")
    ap.add_argument("--overwrite", action="store_true")
    return ap.parse_args(argv)


#: the packages the demo set is made from, and the extra that installs them
DEMO_PACKAGES = {"sklearn": "scikit-learn", "skimage": "scikit-image"}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    with one_line_errors(FileNotFoundError):
        out, opts = options(args)
        try:
            summary = make_demo_dataset(out, overwrite=args.overwrite, **opts)
        except ModuleNotFoundError as err:
            package = DEMO_PACKAGES.get((err.name or "").split(".")[0])
            if package is None:
                raise
            raise SystemExit(f"error: the demo set needs {package}: pip install 'ssdkit[demo]'") from None
    print(json.dumps(summary, indent=1))
    print(f"done in {time.perf_counter() - start:.1f} s")
