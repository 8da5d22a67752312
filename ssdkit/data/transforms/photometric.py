"""The paper's photometric distortions, as the released SSD applies them (each with p = 0.5)."""

from __future__ import annotations

import cv2
import numpy as np

from ssdkit.registry import TRANSFORMS

from .base import RandomTransform
from .loading import as_float


@TRANSFORMS.register_module()
class PhotometricDistortion(RandomTransform):
    """Brightness, contrast, saturation and hue, each applied with probability 0.5, and a channel swap with
    probability ``channel_swap_prob``.

    Contrast comes either first or after saturation/hue (chosen at random), as the released Caffe SSD
    (``ApplyDistort``), and each step's result is clipped to 0..255 as Caffe's uint8 steps saturate. The hue moves
    by up to ``hue_delta`` on OpenCV's 8-bit scale of 0..180, i.e. up to 2 x ``hue_delta`` degrees, as Caffe's
    ``AdjustHue`` (mmdetection's ``PhotoMetricDistortion`` moves it ``hue_delta`` degrees); it wraps around where
    Caffe's saturates at hue 0. The released model never swaps channels (``random_order_prob: 0``, the default here);
    ssd.pytorch, mmdetection and torchvision's ``RandomPhotometricDistort`` swap with probability 0.5.
    Works in float32 and returns uint8 (rounded), so the geometric steps after it move 4x fewer bytes.
    """

    def __init__(
        self,
        brightness_delta: float = 32,
        contrast_range: tuple[float, float] = (0.5, 1.5),
        saturation_range: tuple[float, float] = (0.5, 1.5),
        hue_delta: float = 18,
        channel_swap_prob: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.brightness_delta, self.contrast_range = brightness_delta, contrast_range
        self.saturation_range, self.hue_delta, self.channel_swap_prob = saturation_range, hue_delta, channel_swap_prob

    def _contrast(self, img: np.ndarray) -> None:
        if self.uniform() < 0.5:
            img *= self.uniform(*self.contrast_range)
            np.clip(img, 0, 255, out=img)

    def __call__(self, results: dict) -> dict:
        img = as_float(results["img"]).copy()
        if self.uniform() < 0.5:
            img += self.uniform(-self.brightness_delta, self.brightness_delta)
            np.clip(img, 0, 255, out=img)
        contrast_first = self.uniform() < 0.5
        if contrast_first:
            self._contrast(img)
        do_sat, do_hue = self.uniform() < 0.5, self.uniform() < 0.5
        if do_sat or do_hue:
            hsv = cv2.cvtColor(np.clip(img, 0, 255) / 255.0, cv2.COLOR_BGR2HSV)  # H in degrees 0..360
            if do_sat:
                hsv[..., 1] = np.clip(hsv[..., 1] * self.uniform(*self.saturation_range), 0, 1)
            if do_hue:
                hsv[..., 0] = (hsv[..., 0] + 2 * self.uniform(-self.hue_delta, self.hue_delta)) % 360
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR) * 255.0
        if not contrast_first:
            self._contrast(img)
        if self.uniform() < self.channel_swap_prob:
            img = np.ascontiguousarray(img[..., self.rng.permutation(3)])
        results["img"] = np.clip(img, 0, 255, out=img).round().astype(np.uint8)
        return results
