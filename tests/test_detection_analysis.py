"""``tools/test.py --analysis-dir``: the confusion matrix and the error tables on a hand-worked case, PR curves whose
area is VOCMetric's AP, the matrix against a one-detection-at-a-time reference, and the tool end to end."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

import ssdkit.evaluation.confusion as confusion_module
from ssdkit.data.demo import make_demo_dataset
from ssdkit.evaluation import DetectionAnalysis, VOCMetric, confusion_matrix, false_positives, missed_objects
from ssdkit.evaluation.samples import unpack
from ssdkit.registry import METRICS
from ssdkit.structures import DetSample

from model_utils import ROOT, build_model, demo_config, load_tool

NAMES = ("cat", "dog", "bird")
CAT, DOG, BIRD = range(3)


def make_sample(img_id, gts, preds, ignore=None, shape=(100, 100)) -> DetSample:
    """``gts``: ``[(box, label)]``; ``preds``: ``[(box, score, label)]``; boxes xyxy."""
    s = DetSample(metainfo=dict(img_id=img_id, img_path=f"/images/{img_id}.jpg", img_shape=shape, ori_shape=shape))
    gt = InstanceData(
        bboxes=torch.tensor([b for b, _ in gts], dtype=torch.float32).view(-1, 4),
        labels=torch.tensor([lab for _, lab in gts], dtype=torch.long).view(-1),
    )
    gt.ignore_flags = torch.tensor(ignore or [False] * len(gts), dtype=torch.bool)
    s.gt_instances = gt
    s.pred_instances = InstanceData(
        bboxes=torch.tensor([b for b, _, _ in preds], dtype=torch.float32).view(-1, 4),
        scores=torch.tensor([sc for _, sc, _ in preds], dtype=torch.float32),
        labels=torch.tensor([lab for _, _, lab in preds], dtype=torch.long),
    )
    return s


def hand_worked() -> list[DetSample]:
    """Three images; at score_thr 0.3 and IoU 0.5 every detection's fate is written beside it."""
    a = make_sample(
        "a",
        [([10, 10, 40, 40], CAT), ([50, 50, 90, 90], DOG), ([60, 5, 90, 30], BIRD)],
        [
            ([10, 10, 40, 40], 0.9, CAT),  # takes cat: [cat, cat]; VOC tp
            ([11, 10, 40, 40], 0.8, CAT),  # cat already taken: false alarm [bg, cat]; VOC fp 'duplicate' (IoU 29/30)
            ([50, 50, 90, 90], 0.7, BIRD),  # no bird there, takes the dog: [dog, bird]; VOC fp 'confusion' (IoU 1 dog)
            ([50, 50, 90, 90], 0.2, DOG),  # below score_thr: not in the matrix; VOC tp (the dog, in the dog class)
            ([60, 5, 85, 30], 0.1, BIRD),  # below score_thr, so the bird is missed; VOC tp
        ],
    )
    b = make_sample(
        "b",
        [([0, 0, 50, 50], DOG), ([60, 60, 95, 95], CAT)],
        [
            ([0, 0, 30, 50], 0.95, DOG),  # IoU 0.6: [dog, dog]; VOC tp
            ([60, 60, 95, 95], 0.85, CAT),  # on the difficult cat: dropped; VOC ignored
            ([0, 0, 20, 20], 0.6, CAT),  # IoU 0.16 with the dog only: [bg, cat]; VOC fp 'confusion'
            ([0, 10, 50, 30], 0.5, DOG),  # IoU 0.4 with the dog: [bg, dog]; VOC fp 'localisation'
            ([70, 0, 90, 20], 0.4, BIRD),  # overlaps nothing: [bg, bird]; VOC fp 'background'
        ],
        ignore=[False, True],
    )
    c = make_sample(
        "c",
        [([10, 10, 50, 50], CAT), ([12, 10, 52, 50], DOG), ([70, 70, 90, 90], CAT)],
        [
            ([10, 10, 50, 50], 0.9, DOG),  # IoU 1 with the cat, 0.905 with the dog: its own class first, [dog, dog]
            ([12, 10, 52, 50], 0.8, CAT),  # IoU 1 with the (taken) dog, 0.905 with the cat: [cat, cat]
        ],
    )  # the cat at (70, 70) has no detection near it: missed
    return [a, b, c]


#                      cat dog bird background (detected)
HAND_MATRIX = np.array(
    [
        [2, 0, 0, 1],  # cat: a's, c's; c's second cat missed (b's cat is difficult)
        [0, 2, 1, 0],  # dog: b's, c's; a's taken by the bird
        [0, 0, 0, 1],  # bird: a's, missed
        [2, 1, 1, 0],
    ]
)  # background: a's duplicate cat, b's small cat, b's thin dog, b's bird


def test_confusion_matrix_by_hand():
    results = [unpack(s) for s in hand_worked()]
    np.testing.assert_array_equal(confusion_matrix(results, 3, iou_threshold=0.5, score_thr=0.3), HAND_MATRIX)
    # at score_thr 0.15 a's dog detection (0.2) is counted: the dog is taken by the bird first, so it is a false alarm
    low = confusion_matrix(results, 3, iou_threshold=0.5, score_thr=0.15)
    np.testing.assert_array_equal(low, HAND_MATRIX + np.array([[0] * 4, [0] * 4, [0] * 4, [0, 1, 0, 0]]))
    with pytest.raises(ValueError, match=r"image 'a' has label 2; valid labels are 0..1 \(num_classes=2\)"):
        confusion_matrix(results, 2)


def test_error_tables_by_hand(tmp_path):
    metric = METRICS.build(dict(type="DetectionAnalysis", out_dir=str(tmp_path), score_thr=0.3))
    metric.dataset_meta = dict(classes=NAMES)
    metric.process({}, [s.to_dict() for s in hand_worked()])
    summary = metric.evaluate(3)
    assert summary == {"analysis/missed": 2, "analysis/false_alarms": 4, "analysis/confused": 1}

    fps = read_csv(tmp_path / "false_positives.csv")
    got = [
        (
            r["rank"],
            r["img_id"],
            r["class"],
            round(float(r["score"]), 4),
            r["kind"],
            round(float(r["best_iou"]), 3),
            r["best_gt_class"],
        )
        for r in fps
    ]
    assert got == [
        ("1", "a", "cat", 0.8, "duplicate", round(29 / 30, 3), "cat"),
        ("2", "a", "bird", 0.7, "confusion", 1.0, "dog"),
        ("3", "b", "cat", 0.6, "confusion", 0.16, "dog"),
        ("4", "b", "dog", 0.5, "localisation", 0.4, "dog"),
        ("5", "b", "bird", 0.4, "background", 0.0, ""),
    ]
    assert [float(fps[1][k]) for k in ("x1", "y1", "x2", "y2")] == [50, 50, 90, 90]
    assert fps[0]["img_path"] == "/images/a.jpg"

    missed = read_csv(tmp_path / "missed.csv")  # largest first
    assert [(r["img_id"], r["class"], float(r["area"])) for r in missed] == [("a", "bird", 750.0), ("c", "cat", 400.0)]
    assert float(missed[0]["best_score"]) == pytest.approx(0.1) and float(missed[0]["best_score_iou"]) == pytest.approx(
        625 / 750, abs=1e-4
    )  # the tables give scores and IoUs to 4 decimals
    assert missed[1]["best_score"] == missed[1]["best_score_iou"] == ""  # nothing of its class near it

    table = list(csv.reader(open(tmp_path / "confusion_matrix.csv")))
    assert table[0] == ["gt \\ detected", "cat", "dog", "bird", "background"]
    assert [r[0] for r in table[1:]] == ["cat", "dog", "bird", "background"]
    np.testing.assert_array_equal(np.array([r[1:] for r in table[1:]], int), HAND_MATRIX)
    for name in ("pr_curves.png", "confusion_matrix.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    top2 = false_positives([unpack(s) for s in hand_worked()], top_k=2, class_names=NAMES)
    assert [r["score"] for r in top2] == pytest.approx([0.8, 0.7])


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def random_samples(n_images: int, num_classes: int, seed: int) -> list[DetSample]:
    """Gts of random classes (a fifth ignored); per gt two jittered detections, a third of them relabelled, plus
    random boxes; random scores."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n_images):
        g = int(rng.integers(0, 7))
        xy = rng.uniform(0, 80, (g, 2))
        gt = np.concatenate([xy, xy + rng.uniform(10, 40, (g, 2))], 1)
        gl = rng.integers(0, num_classes, g)
        ig = rng.random(g) < 0.2
        jit = np.repeat(gt, 2, 0) + rng.normal(0, 4, (2 * g, 4))
        jl = np.where(rng.random(2 * g) < 0.3, rng.integers(0, num_classes, 2 * g), np.repeat(gl, 2))
        xy2 = rng.uniform(0, 80, (5, 2))
        rnd = np.concatenate([xy2, xy2 + rng.uniform(10, 40, (5, 2))], 1)
        boxes = np.concatenate([jit, rnd])
        labels = np.concatenate([jl, rng.integers(0, num_classes, 5)])
        scores = np.round(rng.random(len(boxes)), 2)  # rounded: ties across images too
        samples.append(
            make_sample(
                i,
                list(zip(gt.tolist(), gl.tolist(), strict=True)),
                list(zip(boxes.tolist(), scores.tolist(), labels.tolist(), strict=True)),
                ignore=ig.tolist(),
            )
        )
    return samples


def envelope_ap(recall: list[float], precision: list[float]) -> float:
    """VOC all-points AP, written out point by point."""
    r, p = [0.0, *recall, 1.0], [0.0, *precision, 0.0]
    for k in range(len(p) - 2, -1, -1):
        p[k] = max(p[k], p[k + 1])
    return sum((r[k + 1] - r[k]) * p[k + 1] for k in range(len(r) - 1) if r[k + 1] != r[k])


def eleven_point_ap(recall: list[float], precision: list[float]) -> float:
    return (
        sum(max([p for r, p in zip(recall, precision, strict=True) if r >= t / 10], default=0.0) for t in range(11))
        / 11
    )


@pytest.fixture(scope="module")
def random_analysis(tmp_path_factory):
    samples = random_samples(150, 4, seed=7)
    out = tmp_path_factory.mktemp("analysis")
    metric = DetectionAnalysis(out_dir=str(out), score_thr=0.3)
    metric.dataset_meta = dict(classes=("c0", "c1", "c2", "c3"))
    metric.process({}, samples)
    metric.evaluate(len(samples))
    return samples, out


@pytest.mark.parametrize("mode,integrate", [("area", envelope_ap), ("11points", eleven_point_ap)])
def test_pr_curve_area_is_the_metrics_ap(random_analysis, mode, integrate):
    samples, out = random_analysis
    voc = VOCMetric(mode=mode)
    voc.dataset_meta = dict(classes=("c0", "c1", "c2", "c3"))
    voc.process({}, samples)
    expected = voc.evaluate(len(samples))
    rows = read_csv(out / "pr_curves.csv")
    num_dets = sum(len(s.pred_instances) for s in samples)
    assert 0 < len(rows) < num_dets / 2  # only the points where recall rises, and each curve's last
    for name in ("c0", "c1", "c2", "c3"):
        mine = [r for r in rows if r["class"] == name]
        recall, precision = [float(r["recall"]) for r in mine], [float(r["precision"]) for r in mine]
        scores = [float(r["score"]) for r in mine]
        assert scores == sorted(scores, reverse=True) and recall == sorted(recall)
        assert integrate(recall, precision) == pytest.approx(expected[f"pascal_voc/AP50_{name}"], abs=1e-12), name


def reference_confusion(
    samples: list[DetSample], num_classes: int, iou_threshold: float, score_thr: float
) -> np.ndarray:
    """The matrix's rules, one detection and one gt at a time."""

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    bg = num_classes
    m = np.zeros((num_classes + 1, num_classes + 1), int)
    for s in samples:
        gb, gl = s.gt_instances.bboxes.double().tolist(), s.gt_instances.labels.tolist()
        ig = s.gt_instances.ignore_flags.tolist()
        p = s.pred_instances
        dets = sorted(
            [(sc, k) for k, sc in enumerate(p.scores.double().tolist()) if sc >= score_thr], key=lambda d: -d[0]
        )
        taken = [False] * len(gb)
        for _, k in dets:
            box, lab = p.bboxes[k].double().tolist(), int(p.labels[k])
            cands = [
                (iou(box, g), j) for j, g in enumerate(gb) if (ig[j] or not taken[j]) and iou(box, g) >= iou_threshold
            ]
            same = [c for c in cands if gl[c[1]] == lab]
            pool = same or cands
            if not pool:
                m[bg, lab] += 1
                continue
            best = max(pool, key=lambda c: (c[0], -c[1]))[1]  # the highest IoU, the first gt on a tie
            if not ig[best]:
                taken[best] = True
                m[gl[best], lab] += 1
        for j in range(len(gb)):
            if not ig[j] and not taken[j]:
                m[gl[j], bg] += 1
    return m


def test_confusion_matrix_rows_are_the_gt_counts(random_analysis, monkeypatch):
    samples, out = random_analysis
    table = list(csv.reader(open(out / "confusion_matrix.csv")))
    matrix = np.array([r[1:] for r in table[1:]], int)
    gts = np.zeros(4, int)
    for s in samples:
        np.add.at(gts, s.gt_instances.labels[~s.gt_instances.ignore_flags].numpy(), 1)
    np.testing.assert_array_equal(matrix[:4].sum(axis=1), gts)
    reference = reference_confusion(samples, 4, 0.5, 0.3)
    np.testing.assert_array_equal(matrix, reference)  # the background row: the reference's unmatched detections
    assert matrix[4].sum() > 0 and matrix[:4, 4].sum() > 0 and matrix[:4, :4].sum() > np.trace(matrix[:4, :4])
    missed = read_csv(out / "missed.csv")
    assert len(missed) == matrix[:4, 4].sum()
    for k, name in enumerate(("c0", "c1", "c2", "c3")):
        assert sum(r["class"] == name for r in missed) == matrix[k, 4]
    # padded in chunks of a few images at a time: the same matrix
    monkeypatch.setattr(confusion_module, "CHUNK_ELEMENTS", 200)
    results = [unpack(s) for s in samples]
    np.testing.assert_array_equal(confusion_matrix(results, 4), reference)
    assert len(missed_objects(results)) == len(missed)


def test_false_positives_are_the_top_scoring_non_true_positives(random_analysis):
    samples, out = random_analysis
    fps = read_csv(out / "false_positives.csv")
    assert len(fps) == 50
    scores = [float(r["score"]) for r in fps]
    assert scores == sorted(scores, reverse=True)
    for r in fps:
        iou, kind = float(r["best_iou"]), r["kind"]
        assert kind in ("duplicate", "localisation", "confusion", "background")
        assert (kind == "background") == (iou < 0.1 and kind != "duplicate")
        if kind == "confusion":
            assert r["best_gt_class"] != r["class"] and iou >= 0.1
        if kind == "localisation":
            assert iou < 0.5
    everything = false_positives([unpack(s) for s in samples], top_k=None)
    assert [round(r["score"], 6) for r in everything[:50]] == [round(s, 6) for s in scores]
    last = {r["class"]: r for r in read_csv(out / "pr_curves.csv")}  # each curve's last point
    tps = sum(round(float(r["recall"]) * int(r["num_gts"])) for r in last.values())
    assert len(everything) + tps <= sum(len(s.pred_instances) for s in samples)  # the rest: ignored


def test_the_analysis_follows_the_configs_metric():
    tool = load_tool("test")
    args = argparse.Namespace(analysis_dir="d", analysis_score_thr=0.2)
    voc = tool._analysis_evaluator([dict(type="VOCMetric", iou_threshold=0.75)], args)
    assert (voc["iou_threshold"], voc["ap_mode"], voc["score_thr"]) == (0.75, "11points", 0.2)  # VOCMetric's default
    coco = tool._analysis_evaluator([dict(type="CocoMetric")], args)
    assert (coco["iou_threshold"], coco["ap_mode"]) == (0.5, "area")


def test_tools_test_writes_the_analysis(tmp_path, capsys):
    data = tmp_path / "demo"
    make_demo_dataset(str(data), num_train=6, num_val=2)
    cfg = demo_config(str(data), str(tmp_path / "w"), background_prior=False)  # random weights that detect
    torch.manual_seed(0)
    model = build_model(cfg)
    ckpt = tmp_path / "random.pth"
    classes = [f"digit_{i}" for i in range(10)]
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=classes))), ckpt)
    out = tmp_path / "analysis"
    metrics = load_tool("test").main(
        [
            str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py"),
            str(ckpt),
            "--analysis-dir",
            str(out),
            "--analysis-score-thr",
            "0.05",
            "--out",
            str(tmp_path / "dets.json"),
            "--work-dir",
            str(tmp_path / "w"),
            "--cfg-options",
            f"test_dataloader.dataset.data_root={data}",
            "model.postprocessor.score_thr=0.05",
        ]
    )
    assert f"analysis: {out}/ (pr_curves.png" in capsys.readouterr().out
    for name in (
        "pr_curves.png",
        "pr_curves.csv",
        "confusion_matrix.png",
        "confusion_matrix.csv",
        "false_positives.csv",
        "missed.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    val = json.loads((data / "annotations/instances_val.json").read_text())
    gts = np.bincount(
        [
            classes.index(next(c["name"] for c in val["categories"] if c["id"] == a["category_id"]))
            for a in val["annotations"]
        ],
        minlength=10,
    )
    table = list(csv.reader(open(out / "confusion_matrix.csv")))
    assert table[0][1:] == [*classes, "background"]
    matrix = np.array([r[1:] for r in table[1:]], int)
    np.testing.assert_array_equal(matrix[:10].sum(axis=1), gts)
    dets = [d for rec in json.loads((tmp_path / "dets.json").read_text()) for d in rec["detections"]]
    assert dets and min(d["score"] for d in dets) >= 0.05  # the postprocessor's threshold
    assert matrix[:, :10].sum() == len(dets)  # each detection counted once (no crowd in the demo set)
    assert len(read_csv(out / "missed.csv")) == matrix[:10, 10].sum()
    assert metrics["analysis/missed"] == matrix[:10, 10].sum()
    rows = read_csv(out / "pr_curves.csv")
    for k, name in enumerate(classes):
        mine = [r for r in rows if r["class"] == name]
        if gts[k]:
            ap = envelope_ap([float(r["recall"]) for r in mine], [float(r["precision"]) for r in mine])
            assert ap == pytest.approx(metrics[f"pascal_voc/AP50_{name}"], abs=1e-9), name


def test_without_matplotlib_the_metric_fails_before_testing(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'ssdkit\[analysis\]'"):
        DetectionAnalysis(out_dir=str(tmp_path))
