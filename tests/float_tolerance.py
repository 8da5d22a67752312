"""Float32 tolerances derived from a computation's size, and detections compared as matched sets.

Two float32 computations of one network (ours and a reference, or one on AVX2 and one on AVX-512)
differ only in summation order, so their difference is rounding. A reduction of length ``n``
rounds with a relative error of about ``eps * sqrt(n)`` (random-walk rounding, Higham 2002, §2.8);
``L`` layers in sequence add their errors, each relative to the layer's output. So outputs ``y``
agree within

    tol = eps * L * sqrt(n_max) * max|y|

with ``eps = 2**-23`` (float32), ``L`` the number of conv layers on the deepest path and ``n_max``
the longest reduction (``in_channels / groups * kh * kw``). For SSD300-VGG16 (L = 24, n_max = 9216)
that is 2.7e-4 * max|y|: some 30x the differences seen between AVX2 and AVX-512 kernels, and far
below the O(max|y|) error of a wrong weight, offset or layer order.
"""

from __future__ import annotations

import math

import torch
from torch import nn

EPS32 = float(torch.finfo(torch.float32).eps)


def conv_depth_and_width(trunk: list[nn.Module], head: nn.Module) -> tuple[int, int]:
    """``(L, n_max)`` of a detector: ``L`` counts the trunk's conv layers (run in sequence, an upper bound
    on its deepest path) plus the head's one conv per output; ``n_max`` is the longest per-output
    reduction over trunk and head."""
    convs = [m for mod in trunk for m in mod.modules() if isinstance(m, nn.Conv2d)]
    head_convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    n_max = max(m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1] for m in convs + head_convs)
    return len(convs) + 1, n_max


def float32_tolerance(depth: int, width: int, reference: torch.Tensor) -> float:
    """``eps * depth * sqrt(width) * max|reference|`` (module docstring)."""
    return EPS32 * depth * math.sqrt(width) * float(reference.detach().abs().max())


def assert_same_detections(
    ours: dict, ref: dict, score_tol: float, box_tol: float, max_per_img: int | None = None
) -> None:
    """Each reference detection has one of ours with the same label, score within ``score_tol`` and box
    within ``box_tol`` (max abs), in any order; and vice versa.

    Near-tied scores may also decide which detection fills the last places of a full list
    (``max_per_img``): a detection without partner is accepted only if its score is within
    ``score_tol`` of the list's lowest score. ``ours`` and ``ref`` are dicts of ``boxes [N, 4]``,
    ``scores [N]``, ``labels [N]``.
    """
    used = torch.zeros(ours["scores"].shape[0], dtype=torch.bool)
    unmatched_ref = []
    for i in torch.argsort(ref["scores"], descending=True).tolist():
        ok = (
            ~used
            & (ours["labels"] == ref["labels"][i])
            & ((ours["scores"] - ref["scores"][i]).abs() <= score_tol)
            & ((ours["boxes"] - ref["boxes"][i]).abs().amax(-1) <= box_tol)
        )
        if ok.any():
            cand = torch.nonzero(ok).flatten()
            best = cand[(ours["scores"][cand] - ref["scores"][i]).abs().argmin()]
            used[best] = True
        else:
            unmatched_ref.append(i)
    unmatched_ours = torch.nonzero(~used).flatten().tolist()
    for name, det, idx in (("reference", ref, unmatched_ref), ("ours", ours, unmatched_ours)):
        if not idx:
            continue
        full = max_per_img is not None and det["scores"].shape[0] == max_per_img
        floor = float(det["scores"].min()) if det["scores"].numel() else 0.0
        at_cut = [j for j in idx if full and float(det["scores"][j]) <= floor + score_tol]
        wrong = sorted(set(idx) - set(at_cut))
        assert not wrong, (
            f"{len(wrong)} {name} detections have no partner within score {score_tol:.2g} and box "
            f"{box_tol:.2g}: "
            + "; ".join(
                f"label {int(det['labels'][j])} score {float(det['scores'][j]):.6f} "
                f"box {[round(v, 3) for v in det['boxes'][j].tolist()]}"
                for j in wrong[:5]
            )
        )
    assert len(unmatched_ref) == len(unmatched_ours), "detections at the list's cut-off differ in number"
