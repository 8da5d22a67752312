"""Pretrain the demo detector's MobileNetV1 as a digit classifier, the demo's stand-in for ImageNet weights.

The classifier is the backbone, a global average pool and one linear layer over 11 classes (a backdrop
alone, or one of the ten digits). Its crops are rendered as the demo set's images are
(:func:`ssdkit.data.demo.render_crops`) from the *train* digit pool only, so no digit drawing of the demo's
val images is ever seen. Only the backbone's state dict is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ssdkit.data.demo import digit_pools, load_photos, render_crops, soften
from ssdkit.models.backbones.mobilenet import MobileNetV1
from ssdkit.models.backbones.mobilenet_digits import DIGITS_ACTIVATION, DIGITS_FILE, DIGITS_NORM, DIGITS_WIDTH

__all__ = ["DIGITS_FILE", "DigitClassifier", "PretrainOptions", "pretrain_digits"]


@dataclass(frozen=True)
class PretrainOptions:
    """The pretraining recipe (the defaults make the shipped file)."""

    seed: int = 0
    steps: int = 3000
    batch_size: int = 128
    crops: tuple[int, ...] = (64, 96)  # each step's crop side, in turn
    lr: float = 0.2
    weight_decay: float = 5e-5
    warmup: int = 100
    backdrop_blur: float = 8.0
    backdrop_contrast: float = 0.35


class DigitClassifier(nn.Module):
    """``MobileNetV1`` (last block) -> global average pool -> ``Linear`` over 11 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = MobileNetV1(out_indices=(13,), width_mult=DIGITS_WIDTH, activation=DIGITS_ACTIVATION)
        self.fc = nn.Linear(self.backbone.out_channels[-1], 11)
        self.mean = nn.Buffer(torch.tensor(DIGITS_NORM.mean_255).view(1, 3, 1, 1), persistent=False)
        self.std = nn.Buffer(torch.tensor(DIGITS_NORM.std_255).view(1, 3, 1, 1), persistent=False)

    def forward(self, bgr: Tensor) -> Tensor:
        """``[B, H, W, 3]`` uint8 BGR -> ``[B, 11]`` logits."""
        x = bgr.permute(0, 3, 1, 2).flip(1).float()  # RGB, as the detector's preprocessor gives it
        x = (x - self.mean) / self.std
        return self.fc(self.backbone(x)[-1].mean((2, 3)))


def lr_at(step: int, opts: PretrainOptions) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < opts.warmup:
        return opts.lr * (step + 1) / opts.warmup
    return 0.5 * opts.lr * (1 + math.cos(math.pi * (step - opts.warmup) / (opts.steps - opts.warmup)))


def _print(line: str) -> None:
    print(line, flush=True)


def pretrain_digits(opts: PretrainOptions, log: Callable[[str], None] = _print) -> dict[str, Tensor]:
    """Train :class:`DigitClassifier` for ``opts.steps`` and return its backbone's state dict (float32).

    Logs the loss every 100 steps and, at the end, the accuracy on 2000 fresh crops (the first crop size, the
    same train pool).
    """
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng([opts.seed, 23])
    from sklearn.datasets import load_digits

    digits = load_digits()
    photos = [soften(p, opts.backdrop_blur, opts.backdrop_contrast) for p in load_photos()]
    pool = digit_pools(0)["train"]  # the demo set's train pool (its val images draw from the other one)
    model = DigitClassifier()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optim = torch.optim.SGD(
        [dict(params=decay, weight_decay=opts.weight_decay), dict(params=no_decay, weight_decay=0.0)],
        lr=opts.lr,
        momentum=0.9,
        nesterov=True,
    )
    start = time.perf_counter()
    model.train()
    for step in range(opts.steps):
        crop = opts.crops[step % len(opts.crops)]
        imgs, labels = render_crops(rng, photos, digits.images, digits.target, pool, opts.batch_size, crop)
        for group in optim.param_groups:
            group["lr"] = lr_at(step, opts)
        loss = nn.functional.cross_entropy(model(torch.from_numpy(imgs)), torch.from_numpy(labels))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        if step % 100 == 0 or step == opts.steps - 1:
            log(f"step {step + 1}/{opts.steps}  loss {loss.item():.3f}  {time.perf_counter() - start:.0f} s")
    model.eval()
    imgs, labels = render_crops(rng, photos, digits.images, digits.target, pool, 2000, opts.crops[0])
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(imgs[i : i + 250])).argmax(1) for i in range(0, 2000, 250)])
    log(f"accuracy on 2000 new crops (train pool): {(pred.numpy() == labels).mean():.3f}; options {asdict(opts)}")
    return {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}
