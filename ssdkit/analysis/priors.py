"""Prior coverage: can a config's priors match a dataset's objects, at which sizes and shapes, on which levels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ssdkit.core.grid_match import grid_candidates
from ssdkit.structures import PriorGrid, pairwise_iou

from .objects import Objects

#: COCO's size buckets, by area in original-image pixels
COCO_AREAS = (("small", 0.0, 32.0**2), ("medium", 32.0**2, 96.0**2), ("large", 96.0**2, math.inf))
#: sqrt(w h) / sqrt(H W) at the network input
RELATIVE_EDGES = (0.0, 0.05, 0.1, 0.2, 0.4, 0.7, math.inf)
#: w / h at the network input
ASPECT_EDGES = (0.0, 1 / 3, 1 / 2, 2 / 3, 3 / 2, 2.0, 3.0, math.inf)
DENSE_CHUNK = 1024  # objects per dense IoU block when the priors have no grid


@dataclass
class PriorSet:
    """A detector's priors at one input size: ``priors [P, 4]`` xyxy input pixels, their ``grid`` (``None`` when the
    generator describes none), ``level_sizes`` (H_k, W_k) and ``level_ends [L]`` (first prior index after level k),
    ``shapes [S, 3]`` (w, h, level) of the distinct box shapes, ``input_size`` (H, W)."""

    priors: Tensor
    grid: PriorGrid | None
    level_sizes: list[tuple[int, int]]
    level_ends: np.ndarray
    shapes: np.ndarray
    input_size: tuple[int, int]

    def level_of(self, prior: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.level_ends, prior, side="right")


def prior_set(generator, level_sizes: list[tuple[int, int]], input_size: tuple[int, int]) -> PriorSet:
    """The priors ``generator`` makes for maps of ``level_sizes`` on an input of ``input_size``."""
    priors = generator(level_sizes, input_size, "cpu", torch.float32)
    grid = generator.grid(level_sizes, input_size, "cpu") if hasattr(generator, "grid") else None
    per_loc = list(generator.num_priors_per_location)
    ends = np.cumsum([h * w * a for (h, w), a in zip(level_sizes, per_loc, strict=True)])
    if int(ends[-1]) != priors.shape[0]:
        raise ValueError(
            f"the prior generator made {priors.shape[0]} priors, but its num_priors_per_location "
            f"{per_loc} on maps {level_sizes} make {int(ends[-1])}"
        )
    wh = (priors[:, 2:] - priors[:, :2]).numpy().astype(np.float64)
    level = np.searchsorted(ends, np.arange(priors.shape[0]), side="right")
    shapes = np.unique(np.column_stack((np.round(wh, 3), level)), axis=0)
    return PriorSet(priors, grid, level_sizes, ends, shapes, input_size)


def model_prior_set(model, input_size: tuple[int, int]) -> PriorSet:
    """An SSD's priors at ``input_size``: its maps' sizes come from one forward pass of a blank image."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        feats = model.extract_feats(torch.zeros(1, 3, *input_size, device=device))
    model.train(was_training)
    return prior_set(model.prior_generator, [(int(f.shape[-2]), int(f.shape[-1])) for f in feats], input_size)


def match_threshold(matcher) -> float:
    """The IoU at which ``matcher`` makes a prior positive (SSDMatcher ``iou_threshold``, ArgMaxMatcher
    ``matched_threshold``, else its ``floor_iou``)."""
    for key in ("iou_threshold", "matched_threshold", "floor_iou"):
        value = getattr(matcher, key, None)
        if isinstance(value, (int, float)):
            return float(value)
    raise ValueError(
        f"{type(matcher).__name__} states no IoU threshold (iou_threshold, matched_threshold or "
        f"floor_iou); the coverage needs one"
    )


def best_iou(boxes: Tensor, ps: PriorSet, threshold: float) -> Tensor:
    """``[N]`` each box's highest IoU with any prior; on a grid only the priors near each box are visited."""
    if boxes.shape[0] == 0:
        return boxes.new_zeros(0)
    if ps.grid is not None:
        gt, _, iou = grid_candidates(boxes, ps.priors, ps.grid, threshold)
        return boxes.new_zeros(boxes.shape[0]).scatter_reduce_(0, gt, iou.to(boxes.dtype), "amax")
    return torch.cat(
        [pairwise_iou(boxes[i : i + DENSE_CHUNK], ps.priors).amax(dim=1) for i in range(0, boxes.shape[0], DENSE_CHUNK)]
    )


def matched_priors(objects: Objects, ps: PriorSet, matcher, images_per_chunk: int = 512) -> tuple[np.ndarray, ...]:
    """The matcher's positives: ``object [M]`` and ``prior [M]`` of every positive pair (forced matches included)."""
    boxes, valid = objects.padded()
    index = np.full(valid.shape, -1, np.int64)
    index[objects.image, objects.slots()] = np.arange(len(objects))
    obj_out, prior_out = [], []
    for start in range(0, objects.num_images, images_per_chunk):
        gt = torch.from_numpy(boxes[start : start + images_per_chunk])
        ok = torch.from_numpy(valid[start : start + images_per_chunk])
        if hasattr(matcher, "match_sparse"):
            img, prior, code = matcher.match_sparse(gt, ps.priors, ok, grid=ps.grid)
        else:  # a plugin matcher with only the dense contract
            dense = matcher(gt, ps.priors, ok)
            img, prior = (dense >= 0).nonzero(as_tuple=True)
            code = dense[img, prior]
        pos = code >= 0
        img, prior, code = img[pos].numpy() + start, prior[pos].numpy(), code[pos].numpy()
        obj_out.append(index[img, code])
        prior_out.append(prior)
    return np.concatenate(obj_out), np.concatenate(prior_out)


@dataclass
class Bucket:
    """One row of a coverage table."""

    name: str
    count: int
    coverage: float
    positives: float
    mean_iou: float


@dataclass
class CoverageReport:
    """Per object: ``best_iou [N]``, ``covered [N]`` (best IoU >= ``threshold``: matched without the forced
    best-prior rule), ``positives [N]`` (the matcher's positive priors, forced ones included) and
    ``level_positives [L]`` (positives taken by each level); plus the bucket tables."""

    threshold: float
    best_iou: np.ndarray
    covered: np.ndarray
    positives: np.ndarray
    level_positives: np.ndarray
    level_priors: np.ndarray
    level_sizes: list[tuple[int, int]]
    relative_size: np.ndarray
    tables: dict[str, list[Bucket]] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return float(self.covered.mean()) if len(self.covered) else 0.0

    @property
    def idle_levels(self) -> list[int]:
        return [k for k, n in enumerate(self.level_positives) if n == 0]


def _bucket(name: str, mask: np.ndarray, r: CoverageReport) -> Bucket:
    n = int(mask.sum())
    if n == 0:
        return Bucket(name, 0, float("nan"), float("nan"), float("nan"))
    return Bucket(
        name, n, float(r.covered[mask].mean()), float(r.positives[mask].mean()), float(r.best_iou[mask].mean())
    )


def _edges_name(lo: float, hi: float, fmt: str = "{:.2g}") -> str:
    if lo == 0:
        return f"< {fmt.format(hi)}"
    if math.isinf(hi):
        return f">= {fmt.format(lo)}"
    return f"{fmt.format(lo)} .. {fmt.format(hi)}"


def coverage_report(objects: Objects, ps: PriorSet, matcher) -> CoverageReport:
    """Coverage, positives and level use of ``ps`` for ``objects`` under ``matcher``."""
    thr = match_threshold(matcher)
    best = best_iou(torch.from_numpy(objects.boxes), ps, thr).numpy().astype(np.float64)
    obj, prior = matched_priors(objects, ps, matcher)
    n, levels = len(objects), len(ps.level_sizes)
    level = ps.level_of(prior)
    per_loc = np.diff(np.concatenate(([0], ps.level_ends))) // np.maximum([h * w for h, w in ps.level_sizes], 1)
    wh = objects.boxes[:, 2:] - objects.boxes[:, :2]
    rel = np.sqrt(np.clip(wh[:, 0] * wh[:, 1], 0, None) / (ps.input_size[0] * ps.input_size[1]))
    r = CoverageReport(
        thr,
        best,
        best >= thr,
        np.bincount(obj, minlength=n).astype(np.float64),
        np.bincount(level, minlength=levels),
        per_loc,
        ps.level_sizes,
        rel,
    )
    area = objects.ori_wh[:, 0] * objects.ori_wh[:, 1]
    aspect = wh[:, 0] / np.maximum(wh[:, 1], 1e-9)
    r.tables["all"] = [_bucket("all objects", np.ones(n, bool), r)]
    r.tables["COCO size (original pixels)"] = [
        _bucket(name, (area >= lo) & (area < hi), r) for name, lo, hi in COCO_AREAS
    ]
    r.tables["size / input side"] = [
        _bucket(_edges_name(lo, hi), (rel >= lo) & (rel < hi), r)
        for lo, hi in zip(RELATIVE_EDGES[:-1], RELATIVE_EDGES[1:], strict=True)
    ]
    r.tables["aspect w / h"] = [
        _bucket(_edges_name(lo, hi), (aspect >= lo) & (aspect < hi), r)
        for lo, hi in zip(ASPECT_EDGES[:-1], ASPECT_EDGES[1:], strict=True)
    ]
    return r


def format_report(r: CoverageReport) -> str:
    """The report as text tables: coverage and positives per bucket, then positives per level."""
    lines = [
        f"coverage: share of objects whose best prior has IoU >= {r.threshold:g} (matched without the forced "
        f"best-prior rule); positives: the matcher's positive priors per object (forced ones included)"
    ]
    for title, rows in r.tables.items():
        lines.append(f"\n{title:28s}{'objects':>9s}{'share':>8s}{'coverage':>10s}{'positives':>11s}{'best IoU':>10s}")
        total = sum(b.count for b in rows) or 1
        for b in rows:
            if b.count:
                lines.append(
                    f"  {b.name:26s}{b.count:9d}{b.count / total:8.1%}{b.coverage:10.1%}"
                    f"{b.positives:11.2f}{b.mean_iou:10.3f}"
                )
            else:
                lines.append(f"  {b.name:26s}{0:9d}{'':8s}{'-':>10s}{'-':>11s}{'-':>10s}")
    total = int(r.level_positives.sum()) or 1
    n = max(len(r.covered), 1)
    lines.append(f"\n{'level':8s}{'map':>9s}{'priors/loc':>11s}{'positives':>11s}{'share':>8s}{'per object':>12s}")
    for k, ((h, w), a, p) in enumerate(zip(r.level_sizes, r.level_priors, r.level_positives, strict=True)):
        idle = "  idle: takes no positives (dead weight for this data)" if p == 0 else ""
        lines.append(f"  {k:<6d}{f'{h}x{w}':>9s}{int(a):11d}{int(p):11d}{p / total:8.1%}{p / n:12.2f}{idle}")
    return "\n".join(lines)
