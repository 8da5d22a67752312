"""Box coders: ground truth <-> regression targets relative to priors."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ssdkit.registry import BOX_CODERS
from ssdkit.structures.boxes import xyxy_to_cxcywh


@BOX_CODERS.register_module()
class SSDBoxCoder:
    """The paper's centre/size offsets with variances.

    ``t = ((gx - px) / (pw v0), (gy - py) / (ph v1), log(gw / pw) / v2, log(gh / ph) / v3)``, the same
    as torchvision's ``BoxCoder(weights=(10, 10, 5, 5))`` for the default variances. ``decode`` clamps
    the log-size offsets at ``log(1000 / 16)`` so a wild prediction cannot overflow.
    """

    def __init__(
        self, variances: Sequence[float] = (0.1, 0.1, 0.2, 0.2), clip_log_size: float = math.log(1000.0 / 16)
    ) -> None:
        if len(variances) != 4 or min(variances) <= 0:
            raise ValueError(f"SSDBoxCoder: variances must be 4 positive numbers, got {variances}")
        self.variances = tuple(float(v) for v in variances)
        self.weights = tuple(1.0 / v for v in self.variances)
        self.clip_log_size = clip_log_size

    def encode(self, gt: Tensor, priors: Tensor) -> Tensor:
        """``gt [..., 4]`` and ``priors [..., 4]`` (xyxy, broadcastable) -> deltas ``[..., 4]``."""
        wx, wy, ww, wh = self.weights
        px, py, pw, ph = xyxy_to_cxcywh(priors).unbind(-1)
        gx, gy, gw, gh = xyxy_to_cxcywh(gt).unbind(-1)
        return torch.stack(
            (wx * (gx - px) / pw, wy * (gy - py) / ph, ww * torch.log(gw / pw), wh * torch.log(gh / ph)), dim=-1
        )

    def decode(self, deltas: Tensor, priors: Tensor) -> Tensor:
        """``deltas [..., 4]`` and ``priors [..., 4]`` (xyxy, broadcastable) -> boxes ``[..., 4]`` xyxy.

        Written with slices and one concat, no unbind/stack, so that it exports to ONNX graphs OpenCV DNN can shape
        with a batch dimension (``ssdkit.deploy`` exports it as is)."""
        size = priors[..., 2:] - priors[..., :2]  # (w, h)
        centre = priors[..., :2] + 0.5 * size  # (cx, cy), as xyxy_to_cxcywh
        centre = deltas[..., :2] / deltas.new_tensor(self.weights[:2]) * size + centre
        log_size = torch.clamp(deltas[..., 2:] / deltas.new_tensor(self.weights[2:]), max=self.clip_log_size)
        half = 0.5 * (torch.exp(log_size) * size)
        return torch.cat((centre - half, centre + half), dim=-1)

    def __repr__(self) -> str:
        return f"SSDBoxCoder(variances={self.variances})"
