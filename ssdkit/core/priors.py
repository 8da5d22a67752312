"""SSD default boxes (priors)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ssdkit.registry import PRIOR_GENERATORS
from ssdkit.structures import PriorGrid

CLIP_MODES = (None, "wh", "xyxy")


def paper_scales(
    num_levels: int, s_min: float = 0.2, s_max: float = 0.9, first_scale: float | None = None
) -> list[float]:
    """The paper's s_k = s_min + (s_max - s_min)(k - 1)/(m - 1), plus one extrapolated s_{m+1}.

    With ``first_scale`` the first level gets that scale (conv4_3: 0.1 on VOC, 0.07 on COCO) and the
    rule spans the remaining ``m - 1`` levels, as the released SSD models do. Returns ``m + 1``
    scales; the last one only serves the extra box sqrt(s_m * s_{m+1}) of the last level.
    """
    m = num_levels - 1 if first_scale is not None else num_levels
    if m < 1:
        raise ValueError(f"paper_scales: need at least {2 if first_scale is not None else 1} levels, got {num_levels}")
    step = (s_max - s_min) / (m - 1) if m > 1 else (s_max - s_min)
    rule = [s_min + step * k for k in range(m)]
    head = [first_scale] if first_scale is not None else []
    return head + rule + [rule[-1] + step]


def caffe_scales(num_levels: int, min_ratio: int, max_ratio: int, first_scale: float) -> list[float]:
    """The released SSD's scales (ssd_pascal.py): levels 2 .. m at ``min_ratio`` percent of the input in whole
    steps of floor((max_ratio - min_ratio) / (m - 2)) percent, one more step for the last level's extra box, and
    ``first_scale`` for conv4_3 (SSD300 VOC: 20, 90, 0.1 -> 0.1, 0.2, 0.37 .. 0.88, 1.05). Returns ``m + 1``."""
    if num_levels < 3:
        raise ValueError(f"caffe_scales: need at least 3 levels, got {num_levels}")
    step = (max_ratio - min_ratio) // (num_levels - 2)
    ratios = [min_ratio + step * k for k in range(num_levels)]  # percent; the last only serves the extra box
    return [first_scale] + [r / 100 for r in ratios]


def _check_sizes(
    min_sizes: Sequence[float] | None, max_sizes: Sequence[float | None] | None, extra_square: list[bool]
) -> None:
    """``min_sizes`` and ``max_sizes`` both given, one per level, a max size wherever the extra square is."""
    m = len(extra_square)
    if min_sizes is None or max_sizes is None:
        raise ValueError("SSDPriorGenerator: give both min_sizes and max_sizes, or neither")
    if len(min_sizes) != m or len(max_sizes) != m:
        raise ValueError(
            f"SSDPriorGenerator: min_sizes ({len(min_sizes)}) and max_sizes "
            f"({len(max_sizes)}) need one entry per level ({m})"
        )
    missing = [k for k in range(m) if max_sizes[k] is None and extra_square[k]]
    if missing:
        raise ValueError(
            f"SSDPriorGenerator: max_sizes is None at levels {missing}, which have the extra "
            f"square box; give a max size or set extra_square[k]=False there"
        )


def _scales(
    m: int,
    scales: Sequence[float] | None,
    min_ratio: int | None,
    max_ratio: int | None,
    first_scale: float | None,
    s_min: float,
    s_max: float,
) -> list[float]:
    """The ``m + 1`` scales: ``scales`` as given, else the released rule (``min_ratio``, ``max_ratio``), else the
    paper's (``s_min``, ``s_max``)."""
    ratios = min_ratio is not None or max_ratio is not None
    if scales is not None and ratios:
        raise ValueError(
            f"SSDPriorGenerator: both scales={list(scales)} and min_ratio/max_ratio ({min_ratio}, {max_ratio}); "
            f"give one of them"
        )
    if scales is not None:
        if len(scales) != m + 1:
            raise ValueError(
                f"SSDPriorGenerator: scales needs m + 1 = {m + 1} entries (the last serves the "
                f"extra box of the last level), got {len(scales)}"
            )
        return [float(s) for s in scales]
    if ratios:
        if min_ratio is None or max_ratio is None or first_scale is None:
            raise ValueError(
                f"SSDPriorGenerator: min_ratio={min_ratio}, max_ratio={max_ratio}, first_scale={first_scale}: "
                f"the released SSD's rule needs all three (e.g. 20, 90, 0.1 for SSD300 on VOC)"
            )
        return caffe_scales(m, min_ratio, max_ratio, first_scale)
    return paper_scales(m, s_min, s_max, first_scale)


@PRIOR_GENERATORS.register_module()
class SSDPriorGenerator:
    """Default boxes for every location of every prediction map.

    Per location the boxes come in the order of the released SSD and torchvision: the square of
    scale s_k, the square of scale sqrt(s_k s_{k+1}) (unless ``extra_square[k]`` is False), then (w, h)
    and (h, w) for each extra aspect ratio ar (w = s_k sqrt(ar), h = s_k / sqrt(ar)). Locations run
    row-major within a level, levels in order.

    Sizes come from, in order of precedence: ``min_sizes``/``max_sizes`` in input pixels (the
    Caffe SSD300 VOC: 30, 60, 111, 162, 213, 264 -> 60, 111, 162, 213, 264, 315); ``scales``
    (m + 1 fractions of the input size, torchvision style); the released SSD's rule with ``min_ratio``,
    ``max_ratio`` (whole percents) and ``first_scale`` (:func:`caffe_scales`); or the paper's rule with ``s_min``,
    ``s_max`` and optional ``first_scale``.

    Args:
        aspect_ratios: per level, the extra ratios (each adds ar and 1/ar), e.g. ``[[2], [2, 3], ...]``.
        extra_square: per level, whether it has the sqrt(s_k s_{k+1}) square (default: every level). A
            Caffe ``PriorBox`` without ``max_size`` has none (MobileNet-SSD's conv11: 3 boxes); its
            ``max_sizes`` entry may then be ``None``.
        steps: per level, the stride in input pixels between centres; ``None`` uses input/feature size.
        offset: centre offset inside a cell, in cells.
        clip: ``None``; ``'wh'`` clamps normalised width/height to [0, 1] (torchvision ``clip=True``);
            ``'xyxy'`` clamps corners to the image (Caffe ``clip: true``).
    """

    def __init__(
        self,
        aspect_ratios: Sequence[Sequence[float]] = ([2], [2, 3], [2, 3], [2, 3], [2], [2]),
        s_min: float = 0.2,
        s_max: float = 0.9,
        first_scale: float | None = None,
        scales: Sequence[float] | None = None,
        min_sizes: Sequence[float] | None = None,
        max_sizes: Sequence[float | None] | None = None,
        steps: Sequence[float] | None = None,
        offset: float = 0.5,
        clip: str | None = None,
        extra_square: Sequence[bool] | None = None,
        min_ratio: int | None = None,
        max_ratio: int | None = None,
    ) -> None:
        self.aspect_ratios = [list(r) for r in aspect_ratios]
        m = len(self.aspect_ratios)
        self.extra_square = [True] * m if extra_square is None else [bool(e) for e in extra_square]
        if len(self.extra_square) != m:
            raise ValueError(
                f"SSDPriorGenerator: extra_square has {len(self.extra_square)} entries but aspect_ratios has {m} levels"
            )
        if clip not in CLIP_MODES:
            raise ValueError(f"SSDPriorGenerator: clip={clip!r} is not one of {CLIP_MODES}")
        if steps is not None and len(steps) != m:
            raise ValueError(f"SSDPriorGenerator: steps has {len(steps)} entries but aspect_ratios has {m} levels")
        if min_sizes is not None or max_sizes is not None:
            _check_sizes(min_sizes, max_sizes, self.extra_square)
            self.scales = None
        else:
            self.scales = _scales(m, scales, min_ratio, max_ratio, first_scale, s_min, s_max)
        self.min_sizes = None if min_sizes is None else [float(s) for s in min_sizes]
        self.max_sizes = None if max_sizes is None else [None if s is None else float(s) for s in max_sizes]
        # per level: the small square's side and the extra square's (None without one); pixels or fractions
        self._in_pixels = self.min_sizes is not None
        self._sides: list[tuple[float, float | None]]
        if self.min_sizes is not None and self.max_sizes is not None:
            self._sides = [
                (lo, math.sqrt(lo * hi) if self.extra_square[k] and hi is not None else None)
                for k, (lo, hi) in enumerate(zip(self.min_sizes, self.max_sizes, strict=True))
            ]
        else:
            s = self.scales or []
            self._sides = [(s[k], math.sqrt(s[k] * s[k + 1]) if self.extra_square[k] else None) for k in range(m)]
        self.steps = None if steps is None else [float(s) for s in steps]
        self.offset = offset
        self.clip = clip
        self._cache: dict[tuple, Tensor] = {}
        self._grids: dict[tuple, PriorGrid | None] = {}

    @property
    def num_levels(self) -> int:
        return len(self.aspect_ratios)

    @property
    def num_priors_per_location(self) -> list[int]:
        return [1 + int(e) + 2 * len(r) for r, e in zip(self.aspect_ratios, self.extra_square, strict=True)]

    def level_wh(self, k: int, image_size: tuple[int, int]) -> list[tuple[float, float]]:
        """Normalised (w, h) of the boxes at one location of level ``k``, in prior order."""
        h_img, w_img = image_size
        small, big = self._sides[k]
        fx, fy = (1 / w_img, 1 / h_img) if self._in_pixels else (1.0, 1.0)
        sx, sy = small * fx, small * fy
        pairs = [(sx, sy)] if big is None else [(sx, sy), (big * fx, big * fy)]
        for ar in self.aspect_ratios[k]:
            r = math.sqrt(ar)
            pairs += [(sx * r, sy / r), (sx / r, sy * r)]
        return pairs

    def __call__(
        self,
        feature_sizes: Sequence[Sequence[int]],
        image_size: Sequence[int],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        """Priors for one input size.

        Args:
            feature_sizes: ``(H_k, W_k)`` of each prediction map.
            image_size: ``(H, W)`` of the network input.

        Returns:
            ``[P, 4]`` xyxy boxes in input pixels, P = sum_k H_k W_k A_k; cached per size and device.
        """
        sizes = [(int(s[0]), int(s[1])) for s in feature_sizes]
        image_size = (int(image_size[0]), int(image_size[1]))
        if len(sizes) != self.num_levels:
            raise ValueError(
                f"SSDPriorGenerator: got {len(sizes)} feature maps {sizes} but the prior generator "
                f"has {self.num_levels} levels (prior_generator.aspect_ratios); the neck's outputs and the prior "
                f"generator's levels must agree"
            )
        key = (tuple(sizes), image_size, str(device), dtype)
        if key not in self._cache:
            self._cache[key] = self._generate(sizes, image_size, dtype).to(device)
        return self._cache[key]

    def _level_grids(self, feature_sizes: list[tuple[int, int]], image_size: tuple[int, int], dtype: torch.dtype):
        """Per level: normalised centres ``cx [fw]``, ``cy [fh]`` and box sizes ``wh [A, 2]``."""
        h_img, w_img = image_size
        for k, (fh, fw) in enumerate(feature_sizes):
            if self.steps is not None:
                cells_x, cells_y = w_img / self.steps[k], h_img / self.steps[k]
            else:
                cells_x, cells_y = fw, fh
            cx = ((torch.arange(0, fw) + self.offset) / cells_x).to(dtype)
            cy = ((torch.arange(0, fh) + self.offset) / cells_y).to(dtype)
            wh = torch.as_tensor(self.level_wh(k, image_size), dtype=dtype)
            if self.clip == "wh":
                wh = wh.clamp(min=0, max=1)
            yield cx, cy, wh

    def _generate(
        self, feature_sizes: list[tuple[int, int]], image_size: tuple[int, int], dtype: torch.dtype
    ) -> Tensor:
        h_img, w_img = image_size
        levels = []
        for cx, cy, wh in self._level_grids(feature_sizes, image_size, dtype):
            cy, cx = torch.meshgrid(cy, cx, indexing="ij")
            centres = torch.stack((cx.reshape(-1), cy.reshape(-1)), dim=-1).repeat_interleave(wh.shape[0], dim=0)
            levels.append(torch.cat((centres, wh.repeat(cx.numel(), 1)), dim=1))
        boxes = torch.cat(levels, dim=0)
        size = torch.tensor([w_img, h_img])
        xyxy = torch.cat(((boxes[:, :2] - 0.5 * boxes[:, 2:]) * size, (boxes[:, :2] + 0.5 * boxes[:, 2:]) * size), -1)
        if self.clip == "xyxy":
            xyxy = torch.minimum(xyxy.clamp(min=0), size.repeat(2).to(dtype))
        return xyxy

    def grid(
        self, feature_sizes: Sequence[Sequence[int]], image_size: Sequence[int], device: torch.device | str = "cpu"
    ) -> PriorGrid | None:
        """The layout of :meth:`__call__`'s priors as regular grids (cached), for sparse matching.

        ``None`` with ``clip='xyxy'``: boxes clipped at the image border are no longer identical.
        """
        sizes = [(int(s[0]), int(s[1])) for s in feature_sizes]
        image_size = (int(image_size[0]), int(image_size[1]))
        key = (tuple(sizes), image_size, str(device))
        if key not in self._grids:
            self._grids[key] = None if self.clip == "xyxy" else self._make_grid(sizes, image_size).to(device)
        return self._grids[key]

    def _make_grid(self, feature_sizes: list[tuple[int, int]], image_size: tuple[int, int]) -> PriorGrid:
        h_img, w_img = image_size
        cols: dict[str, list] = {k: [] for k in ("base", "per_cell", "fw", "fh", "x0", "y0", "dx", "dy", "w", "h")}
        base = 0
        for cx, cy, wh in self._level_grids(feature_sizes, image_size, torch.float64):
            a, fw, fh = wh.shape[0], cx.numel(), cy.numel()
            for s in range(a):
                cols["base"].append(base + s)
                cols["per_cell"].append(a)
                cols["fw"].append(fw)
                cols["fh"].append(fh)
                cols["x0"].append(float(cx[0]) * w_img)
                cols["y0"].append(float(cy[0]) * h_img)
                cols["dx"].append(float(cx[1] - cx[0]) * w_img if fw > 1 else 1.0)
                cols["dy"].append(float(cy[1] - cy[0]) * h_img if fh > 1 else 1.0)
                cols["w"].append(float(wh[s, 0]) * w_img)
                cols["h"].append(float(wh[s, 1]) * h_img)
            base += a * fw * fh
        ints = ("base", "per_cell", "fw", "fh")
        return PriorGrid(
            **{k: torch.tensor(v, dtype=torch.long if k in ints else torch.float32) for k, v in cols.items()},
            num_priors=base,
        )

    def __repr__(self) -> str:
        sizes = (
            f"min_sizes={self.min_sizes}, max_sizes={self.max_sizes}"
            if self.min_sizes is not None
            else f"scales={[round(s, 4) for s in self.scales or []]}"
        )
        squares = "" if all(self.extra_square) else f", extra_square={self.extra_square}"
        return (
            f"SSDPriorGenerator(aspect_ratios={self.aspect_ratios}, {sizes}, steps={self.steps}, "
            f"offset={self.offset}, clip={self.clip!r}{squares})"
        )
