"""The demo's MobileNetV1 weights: a half-width MobileNetV1 pretrained as a digit classifier by
``tools/pretrain_demo_backbone.py`` (``ssdkit.engine.demo_pretrain``) on crops of the demo's train digits.

The file ships inside the package (3.3 MB float32), so the demo starts from it offline.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .weights import InputNorm, WeightsSource

DIGITS_FILE = Path(__file__).with_name("mobilenetv1_w050_digits.pt")
#: RGB, (x - 127.5) / 127.5 on 0..255 pixels
DIGITS_NORM = InputNorm(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), pixel_scale=255.0)
DIGITS_WIDTH, DIGITS_ACTIVATION = 0.5, "relu6"
DIGITS_REQUIRES = dict(activation=DIGITS_ACTIVATION, width_mult=DIGITS_WIDTH)


def load_digits_weights(file: str | Path = DIGITS_FILE) -> dict[str, Tensor]:
    """The backbone state dict saved by the pretraining tool (``MobileNetV1`` keys)."""
    if not Path(file).exists():
        raise FileNotFoundError(
            f"MobileNetV1(pretrained='digits'): {file} is missing; make it with "
            f"python tools/pretrain_demo_backbone.py --out {file}"
        )
    return torch.load(file, map_location="cpu", weights_only=True)


def digits_weights() -> WeightsSource:
    """``MobileNetV1.WEIGHTS['digits']``."""
    return WeightsSource(
        name="digits",
        origin="ssdkit's digit classifier (tools/pretrain_demo_backbone.py), the demo's train digits",
        norm=DIGITS_NORM,
        load=load_digits_weights,
        load_file=load_digits_weights,
        requires=DIGITS_REQUIRES,
    )
