"""postprocess_raw (numpy and OpenCV NMS of the raw ONNX outputs) against SSDPostprocessor."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from ssdkit.core import SSDPostprocessor
from ssdkit.deploy import raw_nms
from ssdkit.deploy.raw_nms import postprocess_raw

METHODS = ["numpy", "opencv"]
SIZE = 300.0
EPS32 = float(np.finfo(np.float32).eps)
# Both sides get the same float32 scores (the helper ``softmax(logits)`` computed by torch, the postprocessor the
# logits, which it softmaxes with the same kernel), so they agree bit for bit; 4 ulps of the score's magnitude
# leave room for a softmax that rounds differently (another kernel or runtime: a few ulps) and nothing more: a
# wrong score (another class's, another prior's) is off by orders of magnitude more. Boxes are copied from the
# input on both sides, so 1e-4 px is slack only.
SCORE_ULPS = 4
BOX_TOL = 1e-4


def detector_like(
    bsz: int, p: int, c: int, seed: int, n_objects: int = 12, background: float = 3.0, fg_share: float = 0.6
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes ``[B, P, 4]`` in a 300 x 300 input and logits ``[B, P, C+1]`` like a detector's.

    A share ``fg_share`` of the priors sit on one of ``n_objects`` objects per image (jittered copies of its box, so
    NMS has plenty to suppress) and score the object's class strongly; the rest are random boxes where background
    dominates by ``background``. Boxes lie inside the input (the postprocessor's clipping leaves them unchanged).
    """
    rng = np.random.default_rng(seed)
    wh = rng.uniform(20, 150, (bsz, n_objects, 2))
    ctr = rng.uniform(wh / 2, SIZE - wh / 2)
    obj_cls = rng.integers(0, c, (bsz, n_objects))
    on_obj = rng.random((bsz, p)) < fg_share
    obj = rng.integers(0, n_objects, (bsz, p))
    img = np.arange(bsz)[:, None]
    # priors on an object: its box, centre moved by ~10 % and size scaled by ~15 %
    p_wh = wh[img, obj] * np.exp(rng.normal(0, 0.15, (bsz, p, 2)))
    p_ctr = ctr[img, obj] + rng.normal(0, 0.1, (bsz, p, 2)) * wh[img, obj]
    # the others: random boxes
    r_wh = rng.uniform(8, 200, (bsz, p, 2))
    r_ctr = rng.uniform(0, SIZE, (bsz, p, 2))
    box_wh = np.where(on_obj[..., None], p_wh, r_wh)
    box_ctr = np.where(on_obj[..., None], p_ctr, r_ctr)
    boxes = np.clip(np.concatenate((box_ctr - box_wh / 2, box_ctr + box_wh / 2), -1), 0, SIZE).astype(np.float32)
    logits = rng.normal(0, 1.5, (bsz, p, c + 1))
    logits[..., 0] += np.where(on_obj, 0.0, background)
    strength = rng.uniform(1, 7, (bsz, p)) * on_obj
    np.put_along_axis(
        logits,
        1 + obj_cls[img, obj][..., None],
        np.take_along_axis(logits, 1 + obj_cls[img, obj][..., None], -1) + strength[..., None],
        -1,
    )
    return torch.from_numpy(boxes), torch.from_numpy(logits.astype(np.float32))


def reference(logits: torch.Tensor, boxes: torch.Tensor, **kwargs) -> list[dict]:
    """SSDPostprocessor's detections as numpy."""
    metas = [dict(img_shape=(int(SIZE), int(SIZE)))] * boxes.shape[0]
    return [{k: v.numpy() for k, v in det.items()} for det in SSDPostprocessor(**kwargs)(logits, boxes, metas)]


def ours(logits: torch.Tensor, boxes: torch.Tensor, method: str, **kwargs) -> list[dict]:
    """postprocess_raw on what the raw export outputs: the boxes and the softmax of the logits."""
    return postprocess_raw(boxes.numpy(), logits.softmax(-1).numpy(), method=method, **kwargs)


def canonical(det: dict) -> dict:
    """Sorted by label, then decreasing score, then box."""
    b = det["boxes"]
    order = np.lexsort((b[:, 3], b[:, 2], b[:, 1], b[:, 0], -det["scores"], det["labels"]))
    return {k: v[order] for k, v in det.items()}


def assert_same_detections(got: dict, want: dict, where: str = "") -> None:
    """The same detections, as sets: equal labels, scores within ``SCORE_ULPS`` ulps, boxes within ``BOX_TOL``.

    Both are sorted by (label, score, box) and compared entry by entry. Scores within the tolerance may sort the
    other way round (and exactly equal scores come from the two implementations in any order), so inside each run of
    one label's scores that lie within twice the tolerance of each other, entries are ordered by box instead: the
    entries may change places only with a partner of the same label and (nearly) the same score, and any real
    difference in a label, a box or a score still fails.
    """
    n_got, n_want = got["scores"].shape[0], want["scores"].shape[0]
    assert n_got == n_want, f"{where}{n_got} detections, expected {n_want}"
    g, w = canonical(got), canonical(want)
    assert np.array_equal(g["labels"], w["labels"]), (
        f"{where}labels differ: {np.bincount(g['labels'])} per class, expected {np.bincount(w['labels'])}"
    )
    tol = SCORE_ULPS * EPS32 * np.abs(w["scores"])
    gap = np.abs(np.diff(w["scores"])) > 2 * tol[1:]
    block = np.cumsum(np.r_[0, gap | (np.diff(w["labels"]) != 0)])
    for d in (g, w):
        b = d["boxes"]
        order = np.lexsort((b[:, 3], b[:, 2], b[:, 1], b[:, 0], block))
        for k in d:
            d[k] = d[k][order]
    bad = np.flatnonzero(
        (np.abs(g["scores"] - w["scores"]) > tol)
        | (np.abs(g["boxes"] - w["boxes"]).max(-1, initial=0) > BOX_TOL)
        | (g["labels"] != w["labels"])
    )
    assert bad.size == 0, (
        f"{where}{bad.size} detections differ, e.g. label {g['labels'][bad[0]]} score "
        f"{g['scores'][bad[0]]:.9g} box {g['boxes'][bad[0]].tolist()}, expected label "
        f"{w['labels'][bad[0]]} score {w['scores'][bad[0]]:.9g} box {w['boxes'][bad[0]].tolist()}"
    )


def assert_sorted_and_typed(det: dict) -> None:
    assert det["boxes"].dtype == np.float32 and det["boxes"].ndim == 2 and det["boxes"].shape[1] == 4
    assert det["scores"].dtype == np.float32 and det["labels"].dtype == np.int64
    assert np.all(det["scores"][:-1] >= det["scores"][1:])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed,max_per_img", [(0, 200), (1, 200), (0, 10**6)])
def test_matches_postprocessor(method, seed, max_per_img):
    """Some 19000 candidates per image, 2300 left after NMS: the default cap, and all of them."""
    boxes, logits = detector_like(3, 2000, 20, seed)
    want = reference(logits, boxes, max_per_img=max_per_img)
    got = ours(logits, boxes, method, max_per_img=max_per_img)
    assert len(got) == 3
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert_sorted_and_typed(g)
        assert w["scores"].shape[0] >= min(max_per_img, 1000), "too few detections to test anything"
        assert_same_detections(g, w, f"image {i}: ")


def test_comparison_catches_a_difference():
    boxes, logits = detector_like(1, 2000, 20, seed=0)
    want = reference(logits, boxes)[0]
    got = ours(logits, boxes, "numpy")[0]
    assert_same_detections(got, want)
    for key, i, change in (("boxes", 7, 0.01), ("scores", 3, 1e-5), ("labels", 5, 1)):
        bad = {k: v.copy() for k, v in got.items()}
        bad[key][i] += change
        with pytest.raises(AssertionError):
            assert_same_detections(bad, want)
    with pytest.raises(AssertionError):
        assert_same_detections({k: v[1:] for k, v in got.items()}, want)


@pytest.mark.parametrize("method", METHODS)
def test_zero_detections(method):
    boxes, logits = detector_like(2, 500, 20, seed=2)
    logits[..., 0] += 30  # every foreground score below 1e-10
    assert all(w["scores"].shape[0] == 0 for w in reference(logits, boxes))
    for det in ours(logits, boxes, method):
        assert det["boxes"].shape == (0, 4) and det["scores"].shape == (0,) and det["labels"].shape == (0,)
        assert_sorted_and_typed(det)


@pytest.mark.parametrize("method", METHODS)
def test_unbatched_input(method):
    boxes, logits = detector_like(1, 2000, 20, seed=3)
    got = postprocess_raw(boxes[0].numpy(), logits[0].softmax(-1).numpy(), method=method)
    assert isinstance(got, list) and len(got) == 1
    assert_same_detections(got[0], reference(logits, boxes)[0])


@pytest.mark.parametrize("method", METHODS)
def test_pre_nms_topk_decides(method):
    """One class has 1500 candidates above the threshold that do not overlap: only its 400 best survive."""
    p, c = 2000, 20
    boxes, logits = detector_like(2, p, c, seed=4)
    gen = torch.Generator().manual_seed(4)
    xy = torch.stack(torch.meshgrid(torch.arange(40.0), torch.arange(40.0), indexing="ij"), -1).reshape(-1, 2)[:1500]
    boxes[0, :1500] = torch.cat((xy * 7, xy * 7 + 5), -1)  # 5 px boxes 7 px apart
    logits[0, :1500] = torch.randn(1500, c + 1, generator=gen) * 0.3
    logits[0, :1500, 1 + 5] += 3 + torch.rand(1500, generator=gen)
    scores = logits.softmax(-1)
    assert int((scores[0, :, 1 + 5] > 0.01).sum()) > 1500
    kwargs = dict(max_per_img=2000)  # the cap must not hide the top-k
    want = reference(logits, boxes, **kwargs)
    assert (want[0]["labels"] == 5).sum() == 400
    assert (reference(logits, boxes, pre_nms_topk=p, **kwargs)[0]["labels"] == 5).sum() >= 1500
    for i, (g, w) in enumerate(zip(ours(logits, boxes, method, **kwargs), want, strict=True)):
        assert_same_detections(g, w, f"image {i}: ")


@pytest.mark.parametrize("method", METHODS)
def test_max_per_img_caps(method):
    """Small scattered boxes and flat scores: many more than 200 survive NMS, the 200 best are kept."""
    boxes, logits = detector_like(2, 3000, 20, seed=5, n_objects=300, fg_share=0.3, background=0.0)
    n_survivors = [w["scores"].shape[0] for w in reference(logits, boxes, max_per_img=10**6)]
    assert min(n_survivors) > 400
    want = reference(logits, boxes)
    for i, (g, w) in enumerate(zip(ours(logits, boxes, method), want, strict=True)):
        assert w["scores"].shape[0] == 200
        assert_same_detections(g, w, f"image {i}: ")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "kwargs", [dict(score_thr=0.05, nms_iou=0.6, pre_nms_topk=100, max_per_img=50), dict(score_thr=0.2, nms_iou=0.3)]
)
def test_other_settings(method, kwargs):
    boxes, logits = detector_like(3, 2000, 20, seed=6)
    for i, (g, w) in enumerate(
        zip(ours(logits, boxes, method, **kwargs), reference(logits, boxes, **kwargs), strict=True)
    ):
        assert w["scores"].shape[0] > 10
        assert_same_detections(g, w, f"image {i}: ")


@pytest.mark.parametrize("method", METHODS)
def test_empty_boxes_neither_suppress_nor_are_suppressed(method):
    """Boxes clipped to the border have zero area; torchvision's IoU of two of them is 0 / 0 (NaN): both kept."""
    boxes = torch.tensor(
        [
            [
                [300.0, 10.0, 300.0, 60.0],
                [300.0, 10.0, 300.0, 60.0],
                [10.0, 10.0, 50.0, 50.0],
                [10.0, 10.0, 50.0, 50.0],
                [300.0, 20.0, 300.0, 50.0],
            ]
        ]
    )
    logits = torch.tensor(
        [[[0.0, 5.0, -20.0], [0.0, 4.0, -20.0], [0.0, 3.0, -20.0], [0.0, 2.0, -20.0], [0.0, -20.0, 6.0]]]
    )
    want = reference(logits, boxes)[0]
    assert want["scores"].shape[0] == 4  # the empty boxes, and one of the two equal boxes
    assert_same_detections(ours(logits, boxes, method)[0], want)


def test_negative_coordinates_keep_classes_apart():
    """Classes stay apart below 0 too (a shift by class times the largest coordinate, as OpenCV's, would not)."""
    boxes = np.array([[-20.0, -20.0, -5.0, -5.0], [-20.0, -20.0, -5.0, -5.0]], np.float32)
    scores = np.array([[0.1, 0.9, 0.0], [0.1, 0.0, 0.9]], np.float32)
    for method in METHODS:
        assert sorted(postprocess_raw(boxes, scores, method=method)[0]["labels"].tolist()) == [0, 1], method


def test_opencv_nms_semantics():
    """What ``_opencv_nms`` relies on in ``cv2.dnn.NMSBoxesBatched`` (float boxes as x, y, w, h)."""

    def nms(xywh, scores, score_thr=0.0, iou=0.5, top_k=0):
        kept = cv2.dnn.NMSBoxesBatched(
            np.array(xywh, np.float64),
            np.array(scores, np.float32),
            np.zeros(len(scores), np.int32),
            score_thr,
            iou,
            1.0,
            top_k,
        )
        return np.asarray(kept).reshape(-1).tolist()

    assert nms([[0, 0, 1, 1]], [0.5], score_thr=0.5) == []  # score > threshold, strictly
    assert nms([[0, 0, 1, 1]], [np.float32(0.1)], score_thr=0.1) == []  # ... in float32
    assert nms([[0, 0, 3, 1], [1, 0, 3, 1]], [0.9, 0.8], iou=0.5) == [0, 1]  # IoU 0.5 = threshold: kept
    assert nms([[0, 0, 3, 1], [1, 0, 3, 1]], [0.9, 0.8], iou=0.49) == [0]
    # areas w * h: IoU 2 / 6; with (w + 1) * (h + 1) it would be 6 / 12
    assert nms([[0, 0, 2, 2], [1, 0, 2, 2]], [0.9, 0.8], iou=0.4) == [0, 1]
    assert nms([[0, 0, 2, 2], [1, 0, 2, 2]], [0.9, 0.8], iou=0.3) == [0]
    # fractional coordinates (Rect2d): IoU 0.8 / 2.0; as integers it would be 0 (rounded) or 1 (truncated)
    assert nms([[0, 0, 1.4, 1], [0.6, 0, 1.4, 1]], [0.9, 0.8], iou=0.3) == [0]
    assert nms([[0, 0, 1.4, 1], [0.6, 0, 1.4, 1]], [0.9, 0.8], iou=0.5) == [0, 1]
    # any two empty boxes count as identical, even far apart and of other classes (torchvision: IoU NaN, kept),
    # hence _opencv_nms keeps empty boxes aside
    assert nms([[5, 5, 0, 3], [100, 5, 0, 3]], [0.9, 0.8]) == [0]
    kept = cv2.dnn.NMSBoxesBatched(
        np.array([[5, 5, 0, 3], [5, 5, 0, 3]], np.float64),
        np.array([0.9, 0.8], np.float32),
        np.array([0, 7], np.int32),
        0.0,
        0.5,
        1.0,
        0,
    )
    assert np.asarray(kept).reshape(-1).tolist() == [0]
    # top_k cuts the candidates before NMS, over all classes: no use for a per-class top-k or the final cap
    assert nms([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 10, 10]], [0.9, 0.8, 0.7], top_k=2) == [0]
    # kept indices by decreasing score, equal scores in input order
    assert nms([[0, 0, 9, 9], [20, 0, 9, 9], [40, 0, 9, 9], [60, 0, 9, 9]], [0.2, 0.9, 0.5, 0.9]) == [1, 3, 2, 0]


@pytest.mark.parametrize(
    "boxes_shape,scores_shape,match",
    [
        ((2, 10, 5), (2, 10, 3), r"boxes must be \[B, P, 4\] or \[P, 4\]"),
        ((10,), (10, 3), r"boxes must be \[B, P, 4\] or \[P, 4\]"),
        ((2, 10, 4), (2, 9, 3), r"scores must be \[B, P, C\+1\] with C >= 1"),
        ((2, 10, 4), (10, 3), r"scores must be \[B, P, C\+1\]"),
        ((10, 4), (10, 1), r"scores must be \[P, C\+1\] with C >= 1"),
    ],
)
def test_bad_shapes(boxes_shape, scores_shape, match):
    with pytest.raises(ValueError, match=match):
        postprocess_raw(np.zeros(boxes_shape, np.float32), np.zeros(scores_shape, np.float32))


def test_bad_method():
    with pytest.raises(ValueError, match="numpy.*opencv"):
        postprocess_raw(np.zeros((4, 4), np.float32), np.zeros((4, 3), np.float32), method="torch")


@pytest.mark.parametrize("method", METHODS)
def test_crowded_image_widens_the_prefix(method, monkeypatch):
    """One object under 95 % of the priors: NMS of each image's best 1000 candidates keeps fewer than 200, so it runs
    again on more of them, and the result is still the postprocessor's."""
    boxes, logits = detector_like(2, 3000, 20, seed=3, n_objects=1, fg_share=0.95)
    calls = []
    name = "_greedy_nms" if method == "numpy" else "_opencv_nms"
    real = getattr(raw_nms, name)
    monkeypatch.setattr(raw_nms, name, lambda *a: calls.append(len(a[0])) or real(*a))
    want = reference(logits, boxes)
    got = ours(logits, boxes, method)
    assert len(calls) >= 2 and calls[0] == 2000 and calls[-1] > calls[0], calls  # 1000 per image first
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert w["scores"].shape[0] == 200
        assert_same_detections(g, w, f"image {i}: ")
