"""Pretrain the demo's backbone: a half-width MobileNetV1 as a digit classifier on the demo's train digits.

    python tools/pretrain_demo_backbone.py [--out ssdkit/models/backbones/mobilenetv1_w050_digits.pt] [--steps 3000]

Writes the backbone's state dict (``MobileNetV1(pretrained='digits')`` loads it). The same seed gives the
same crops and the same recipe; the weights agree to floating-point rounding between CPUs.
"""

from __future__ import annotations

import argparse
import dataclasses

from ssdkit.engine.demo_pretrain import DIGITS_FILE, PretrainOptions, pretrain_digits
from ssdkit.utils.atomic import atomic_torch_save


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DIGITS_FILE))
    for f in dataclasses.fields(PretrainOptions):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, tuple):
            ap.add_argument(flag, type=int, nargs="+", default=f.default)
        else:
            ap.add_argument(flag, type=type(f.default), default=f.default)
    args = ap.parse_args(argv)
    opts = PretrainOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainOptions)})
    opts = dataclasses.replace(opts, crops=tuple(opts.crops))
    state = pretrain_digits(opts)
    atomic_torch_save(state, args.out)
    print(f"wrote {args.out}")
