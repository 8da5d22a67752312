"""Priors fitted to a dataset: the config's levels and prior counts, with scales and aspect ratios that cover more."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ssdkit.core.priors import SSDPriorGenerator

from .objects import Objects
from .priors import PriorSet, best_iou, prior_set

#: the multiplicative steps tried on each parameter in a round of coordinate search
STEPS = (0.6, 0.8, 0.9, 1.1, 1.25, 1.67)
SCALE_RANGE = (0.01, 1.5)  # of the input side
RATIO_RANGE = (1.0, 12.0)  # each ratio r gives r and 1/r
#: prior generator keys that take precedence over ``scales`` (pixel sizes) or conflict with it (the released rule)
PRECEDING_KEYS = ("min_sizes", "max_sizes", "min_ratio", "max_ratio", "first_scale")
MEAN_IOU_WEIGHT = 0.1  # ties in coverage go to the higher mean best IoU (a smooth guide between coverage steps)


@dataclass
class PriorFit:
    """The fitted ``scales`` (m + 1, fractions of the input side) and ``aspect_ratios`` (per level, as many as the
    config's), with the coverage ``before`` (the config's priors) and ``after`` on all objects."""

    scales: list[float]
    aspect_ratios: list[list[float]]
    before: float
    after: float
    evaluations: int
    generator: SSDPriorGenerator

    def overrides(self, stated: dict) -> dict:
        """The ``model.prior_generator`` keys to set: the fitted ``scales`` and ``aspect_ratios``, and ``None`` for
        the keys of ``stated`` (the config's dict) that would take precedence over ``scales`` or conflict with it."""
        cleared = {k: None for k in PRECEDING_KEYS if stated.get(k) is not None}
        return dict(
            cleared, scales=[float(s) for s in self.scales], aspect_ratios=[list(r) for r in self.aspect_ratios]
        )

    def _values(self) -> tuple[str, str]:
        scales = ", ".join(f"{s:.5f}" for s in self.scales)
        ratios = ", ".join("[" + ", ".join(f"{r:.4f}" for r in level) + "]" for level in self.aspect_ratios)
        return f"[{scales}]", f"[{ratios}]"

    def snippet(self, stated: dict) -> str:
        """The ``prior_generator=dict(...)`` entry to put in the config's ``model = dict(...)``, given the config's
        ``stated`` dict (:meth:`overrides`)."""
        scales, ratios = self._values()
        cleared = "".join(f", {k}=None" for k, v in self.overrides(stated).items() if v is None)
        return f"prior_generator=dict(scales={scales}, aspect_ratios={ratios}{cleared}),"

    def cfg_options(self, stated: dict) -> list[str]:
        """The same as ``--cfg-options`` arguments, to try the fit without editing the config."""
        scales, ratios = self._values()
        cleared = [f"model.prior_generator.{k}=None" for k, v in self.overrides(stated).items() if v is None]
        return [f"model.prior_generator.scales={scales}", f"model.prior_generator.aspect_ratios={ratios}", *cleared]


def start_scales(gen: SSDPriorGenerator, input_size: tuple[int, int]) -> list[float]:
    """The generator's sizes as m + 1 fractions of the input side (the last from the last level's extra square)."""
    side = float(np.sqrt(input_size[0] * input_size[1]))
    h, w = input_size
    smalls, bigs = [], []
    for k in range(gen.num_levels):
        pairs = gen.level_wh(k, input_size)
        smalls.append(float(np.sqrt(pairs[0][0] * w * pairs[0][1] * h)) / side)
        bigs.append(float(np.sqrt(pairs[1][0] * w * pairs[1][1] * h)) / side if gen.extra_square[k] else None)
    last_big = bigs[-1]
    tail = last_big**2 / smalls[-1] if last_big else min(smalls[-1] * 1.25, 1.0)
    return smalls + [tail]


def _generator(gen: SSDPriorGenerator, scales: list[float], ratios: list[list[float]]) -> SSDPriorGenerator:
    return SSDPriorGenerator(
        aspect_ratios=ratios,
        scales=scales,
        steps=gen.steps,
        offset=gen.offset,
        clip=gen.clip,
        extra_square=gen.extra_square,
    )


def _score(gen: SSDPriorGenerator, ps: PriorSet, boxes: torch.Tensor, threshold: float) -> tuple[float, PriorSet]:
    cand = prior_set(gen, ps.level_sizes, ps.input_size)
    best = best_iou(boxes, cand, threshold)
    return float((best >= threshold).float().mean() + MEAN_IOU_WEIGHT * best.mean()), cand


def _candidates(scales: list[float], kind: str, k: int, current: float) -> list[float]:
    """The values a search step tries for one parameter (``kind`` ``'s'``: scale ``k``, ``'r'``: a ratio): the
    current value times each of :data:`STEPS`, within range; a scale also between its neighbours."""
    lo, hi = SCALE_RANGE if kind == "s" else RATIO_RANGE
    if kind == "s":  # keep the levels ordered
        lo = max(lo, scales[k - 1] if k > 0 else lo)
        hi = min(hi, scales[k + 1] if k + 1 < len(scales) else hi)
    return [current * step for step in STEPS if lo <= current * step <= hi]


def _trial(
    scales: list[float], ratios: list[list[float]], kind: str, k: int, j: int, value: float
) -> tuple[list[float], list[list[float]]]:
    """``(scales, ratios)`` with the one parameter set to ``value``."""
    trial_s = [value if (kind == "s" and i == k) else s for i, s in enumerate(scales)]
    trial_r = [
        [value if (kind == "r" and a == k and b == j) else r for b, r in enumerate(level)]
        for a, level in enumerate(ratios)
    ]
    return trial_s, trial_r


def fit_priors(
    gen, ps: PriorSet, objects: Objects, threshold: float, max_objects: int = 4000, rounds: int = 6, seed: int = 0
) -> PriorFit:
    """Coordinate search over the m + 1 scales and every aspect ratio of ``gen`` (an :class:`SSDPriorGenerator`),
    keeping its levels, maps, steps and prior counts, to maximise the share of objects whose best prior has IoU >=
    ``threshold`` (on a seeded sample of ``max_objects`` objects; the result is scored on all of them).

    Each round tries every parameter times each of :data:`STEPS` and keeps the best improvement; scales stay
    non-decreasing over levels (small priors on fine maps). Stops after ``rounds`` rounds or a round without gain.
    """
    if not isinstance(gen, SSDPriorGenerator):
        raise ValueError(
            f"--suggest fits SSDPriorGenerator's scales and aspect_ratios; model.prior_generator is "
            f"{type(gen).__name__}"
        )
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(objects), size=min(len(objects), max_objects), replace=False)
    sample = torch.from_numpy(objects.boxes[np.sort(pick)])
    scales = start_scales(gen, ps.input_size)
    ratios = [[max(float(r), 1 / float(r)) for r in level] for level in gen.aspect_ratios]
    best, _ = _score(_generator(gen, scales, ratios), ps, sample, threshold)
    evaluations = 1
    params = [("s", k, 0) for k in range(len(scales))]
    params += [("r", k, j) for k, level in enumerate(ratios) for j in range(len(level))]
    for _ in range(rounds):
        gained = False
        for kind, k, j in params:
            current = scales[k] if kind == "s" else ratios[k][j]
            trials = [_trial(scales, ratios, kind, k, j, v) for v in _candidates(scales, kind, k, current)]
            for trial_s, trial_r in trials:
                score, _ = _score(_generator(gen, trial_s, trial_r), ps, sample, threshold)
                evaluations += 1
                if score > best + 1e-9:
                    best, scales, ratios, gained = score, trial_s, trial_r, True
        if not gained:
            break
    fitted = _generator(gen, scales, ratios)
    everything = torch.from_numpy(objects.boxes)
    before = float((best_iou(everything, ps, threshold) >= threshold).float().mean())
    after = float(
        (best_iou(everything, prior_set(fitted, ps.level_sizes, ps.input_size), threshold) >= threshold).float().mean()
    )
    return PriorFit(scales, ratios, before, after, evaluations, fitted)
