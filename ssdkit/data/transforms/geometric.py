"""Geometric transforms: zoom out, min-IoU crop, resize, flip. Boxes move with the image."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ssdkit.registry import TRANSFORMS
from ssdkit.structures.np_boxes import np_pairwise_iou

from .base import RandomTransform, keep_boxes

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


@TRANSFORMS.register_module()
class Expand(RandomTransform):
    """ "Zoom out": place the image at a random spot of a canvas ``ratio`` times larger (ratio drawn
    from ``ratio_range``) filled with ``mean``; applied with probability ``prob``.

    ``mean`` is the model's input mean (0..255, RGB if ``mean_is_rgb``), so the canvas is 0 after
    normalisation, as the released SSD's ``expand_param``. Configs leave it out: loading a config through
    ssdkit (:func:`ssdkit.engine.wire_expand_fill`) fills it from the model's data preprocessor.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        mean_is_rgb: bool = True,
        ratio_range: tuple[float, float] = (1, 4),
        prob: float = 0.5,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if mean is None or len(mean) != 3:
            raise ValueError(
                f"Expand: mean={mean!r}; give the model's input mean (3 values on 0..255 pixels). A "
                f"config loaded through ssdkit (tools/train.py, build_runner) gets it from the model"
            )
        self.fill = np.array(mean[::-1] if mean_is_rgb else mean, np.float32)  # the image is BGR
        self.ratio_range, self.prob = ratio_range, prob

    def __call__(self, results: dict) -> dict:
        if self.uniform() >= self.prob:
            return results
        img = results["img"]
        h, w = img.shape[:2]
        ratio = self.uniform(*self.ratio_range)
        nh, nw = int(h * ratio), int(w * ratio)
        top, left = int(self.uniform(0, nh - h)), int(self.uniform(0, nw - w))
        fill = [float(v) for v in (self.fill.round() if img.dtype == np.uint8 else self.fill)]
        results["img"] = cv2.copyMakeBorder(
            img, top, nh - h - top, left, nw - w - left, cv2.BORDER_CONSTANT, value=fill
        )
        results["img_shape"] = (nh, nw)
        results["gt_bboxes"] = results["gt_bboxes"] + np.array([left, top, left, top], np.float32)
        return results


@TRANSFORMS.register_module()
class MinIoURandomCrop(RandomTransform):
    """The paper's patch sampling: keep the whole image, or a patch whose IoU with the objects reaches one
    of ``min_ious``, or any patch; boxes whose centre lies in the patch are kept and clipped, the others
    dropped. Each draw makes ``max_trials`` candidate patches and takes the first that qualifies.

    Args:
        rule: ``'any'`` (the paper, and the released Caffe SSD's ``SatisfySampleConstraint``): a patch
            qualifies when some object reaches ``min_iou``; ``'all'`` (mmdetection): every object must.
        patch_sampling: ``'scale_aspect'`` (the released Caffe SSD's ``SampleBBox``): a scale s in
            [``min_crop_size``, 1] and an aspect ratio a in ``aspect_range`` clamped to [s^2, 1/s^2] give a
            patch of s*sqrt(a) x s/sqrt(a) of the image's width x height; ``'sides'`` (mmdetection): width and
            height each in [``min_crop_size``, 1] of the image's, rejected unless h/w (pixels) is in ``aspect_range``.
        min_crop_size: the smallest patch side as a fraction of the image's (the paper's text: 0.1; the
            released model: 0.3).
    """

    RULES, SAMPLINGS = ("any", "all"), ("scale_aspect", "sides")

    def __init__(
        self,
        min_ious: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
        min_crop_size: float = 0.1,
        aspect_range: tuple[float, float] = (0.5, 2.0),
        max_trials: int = 50,
        rule: str = "any",
        patch_sampling: str = "scale_aspect",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if rule not in self.RULES:
            raise ValueError(f"MinIoURandomCrop: rule={rule!r}; valid: {list(self.RULES)}")
        if patch_sampling not in self.SAMPLINGS:
            raise ValueError(f"MinIoURandomCrop: patch_sampling={patch_sampling!r}; valid: {list(self.SAMPLINGS)}")
        self.modes: list[str | float] = ["none", *[float(m) for m in min_ious], "any"]
        self.min_crop_size, self.aspect_range, self.max_trials = min_crop_size, aspect_range, max_trials
        self.rule, self.patch_sampling = rule, patch_sampling

    def _draw_patches(self, w: int, h: int) -> np.ndarray:
        """``max_trials`` candidate patches ``[T, 4]`` (int xyxy), drawn at once; invalid ones get x2 = x1."""
        u = self.rng.uniform(0, 1, (self.max_trials, 4))
        lo = self.min_crop_size
        if self.patch_sampling == "scale_aspect":
            scale = lo + u[:, 0] * (1 - lo)
            a_lo = np.maximum(self.aspect_range[0], scale**2)
            a_hi = np.minimum(self.aspect_range[1], 1 / scale**2)
            aspect = a_lo + u[:, 1] * (a_hi - a_lo)
            cw, ch = np.minimum(scale * np.sqrt(aspect), 1) * w, np.minimum(scale / np.sqrt(aspect), 1) * h
            aspect_ok = np.ones(self.max_trials, bool)
        else:
            cw, ch = lo * w + u[:, 0] * (1 - lo) * w, lo * h + u[:, 1] * (1 - lo) * h
            aspect_ok = (ch / cw >= self.aspect_range[0]) & (ch / cw <= self.aspect_range[1])
        left, top = u[:, 2] * (w - cw), u[:, 3] * (h - ch)
        patches = np.stack([left, top, left + cw, top + ch], 1).astype(int).astype(np.float32)
        patches[~aspect_ok, 2] = patches[~aspect_ok, 0]
        return patches

    def accepts(self, patches: np.ndarray, boxes: np.ndarray, min_iou: float) -> np.ndarray:
        """``[T]`` whether each patch ``[T, 4]`` meets ``min_iou`` with the boxes ``[N, 4]`` under ``rule``."""
        if not len(boxes):
            return np.ones(len(patches), bool)
        reach = np.asarray(np_pairwise_iou(patches, boxes) >= min_iou)
        return np.asarray(reach.any(axis=1) if self.rule == "any" else reach.all(axis=1))

    def __call__(self, results: dict) -> dict:
        img, boxes = results["img"], results["gt_bboxes"]
        h, w = img.shape[:2]
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        while True:
            mode = self.modes[int(self.rng.choice(len(self.modes)))]
            if mode == "none":
                return results
            min_iou = -1.0 if mode == "any" else float(mode)
            patches = self._draw_patches(w, h)  # the trials, in order; the first valid one is taken
            ok = (patches[:, 2] > patches[:, 0]) & (patches[:, 3] > patches[:, 1])
            inside = ((centres[None] > patches[:, None, :2]) & (centres[None] < patches[:, None, 2:])).all(2)
            if len(boxes):
                ok &= self.accepts(patches, boxes, min_iou) & inside.any(axis=1)
            if not ok.any():
                continue
            t = int(np.argmax(ok))
            patch = patches[t]
            x1, y1, x2, y2 = patch.astype(int)
            results["img"] = img[y1:y2, x1:x2]
            results["img_shape"] = (y2 - y1, x2 - x1)
            results["crop_box"] = patch
            keep_boxes(results, inside[t])
            b = results["gt_bboxes"]
            b[:, :2] = np.maximum(b[:, :2], patch[:2])
            b[:, 2:] = np.minimum(b[:, 2:], patch[2:])
            results["gt_bboxes"] = b - np.tile(patch[:2], 2)
            return results


@TRANSFORMS.register_module()
class Resize(RandomTransform):
    """Resize to ``size`` = (H, W) without keeping the aspect ratio (SSD's fixed input), boxes scaled.

    ``interpolation``: one of :data:`INTERPOLATIONS`, or a list to draw one from per image (the released
    SSD trains with ``['linear', 'area', 'nearest', 'cubic', 'lanczos']``).
    """

    def __init__(
        self,
        size: tuple[int, int] | int = (300, 300),
        interpolation: str | Sequence[str] = "linear",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        modes = [interpolation] if isinstance(interpolation, str) else list(interpolation)
        bad = [m for m in modes if m not in INTERPOLATIONS]
        if bad or not modes:
            raise ValueError(
                f"Resize: interpolation={interpolation!r}; valid: {list(INTERPOLATIONS)} or a list of them"
            )
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.modes = [INTERPOLATIONS[m] for m in modes]

    def __call__(self, results: dict) -> dict:
        img = results["img"]
        h, w = img.shape[:2]
        th, tw = self.size
        mode = self.modes[0] if len(self.modes) == 1 else self.modes[int(self.rng.choice(len(self.modes)))]
        results["img"] = cv2.resize(img, (tw, th), interpolation=mode)
        results["img_shape"] = (th, tw)
        results["gt_bboxes"] = (results["gt_bboxes"] * np.array([tw / w, th / h, tw / w, th / h])).astype(np.float32)
        return results


def resize_in(pipeline: Sequence | None) -> tuple[int, int] | None:
    """The (H, W) the last ``Resize`` of a pipeline config (a list of transform dicts) resizes to; ``None`` without
    one. The size is read through ``Resize`` itself, so its default and its int form need no copy here."""
    for t in reversed(list(pipeline or [])):
        if isinstance(t, dict) and t.get("type") in ("Resize", Resize):
            size = Resize(**{k: v for k, v in t.items() if k == "size"}).size
            return int(size[0]), int(size[1])
    return None


@TRANSFORMS.register_module()
class RandomFlip(RandomTransform):
    """Horizontal flip with probability ``prob``."""

    def __init__(self, prob: float = 0.5, seed: int | None = None) -> None:
        super().__init__(seed)
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        flip = self.uniform() < self.prob
        results["flip"] = flip
        if flip:
            w = results["img"].shape[1]
            results["img"] = np.ascontiguousarray(results["img"][:, ::-1])
            b = results["gt_bboxes"].copy()
            b[:, 0], b[:, 2] = w - results["gt_bboxes"][:, 2], w - results["gt_bboxes"][:, 0]
            results["gt_bboxes"] = b
        return results
