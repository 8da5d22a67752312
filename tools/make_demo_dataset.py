"""Build the bundled demo detection set (digits pasted onto photographs, COCO format).

    python tools/make_demo_dataset.py --out data/demo [--seed 0] [--num-train 4000] [--num-val 100] [--overwrite] [--image-size 320]
        [--min-px 40] [--max-frac 0.6] [--max-objects 4] [--aspect-range 0.7 1.0] [--stroke-contrast 2]
        [--backdrop-blur 8] [--backdrop-contrast 0.35]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ssdkit.data.demo import make_demo_dataset  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-train", type=int, default=4000)
    ap.add_argument("--num-val", type=int, default=100)
    ap.add_argument("--image-size", type=int, default=None, help="square image side, pixels (default 320)")
    ap.add_argument("--min-px", type=float, default=40.0, help="smallest pasted digit side, pixels")
    ap.add_argument("--max-frac", type=float, default=0.6, help="largest pasted digit side, fraction of the image")
    ap.add_argument("--max-objects", type=int, default=4, help="digits per image: 1 .. this")
    ap.add_argument("--aspect-range", type=float, nargs=2, default=(0.7, 1.0), help="digit width / height range")
    ap.add_argument("--stroke-contrast", type=float, default=2.0, help="steeper digit opacity (1: as interpolated)")
    ap.add_argument("--backdrop-blur", type=float, default=8.0, help="Gaussian sigma on the photographs (0: sharp)")
    ap.add_argument("--backdrop-contrast", type=float, default=0.35, help="photograph contrast (1: as is)")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    size = {} if args.image_size is None else dict(image_size=(args.image_size, args.image_size))
    summary = make_demo_dataset(args.out, args.seed, args.num_train, args.num_val, overwrite=args.overwrite, **size,
                                min_px=args.min_px, max_frac=args.max_frac, max_objects=args.max_objects,
                                backdrop_blur=args.backdrop_blur, backdrop_contrast=args.backdrop_contrast,
                                aspect_range=tuple(args.aspect_range), stroke_contrast=args.stroke_contrast)
    print(json.dumps(summary, indent=1))
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
