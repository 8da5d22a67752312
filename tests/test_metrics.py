"""VOCMetric on a hand-worked example and against an independent devkit-style loop; CocoMetric
against pycocotools called directly on the same detections."""

from __future__ import annotations

import contextlib
import io
import json
import re

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ssdkit.evaluation import CocoMetric, VOCMetric
from ssdkit.registry import METRICS
from ssdkit.structures import DetSample


def make_sample(img_id, gt_boxes, gt_labels, pred_boxes, scores, pred_labels, ignore=None, shape=(100, 100)):
    s = DetSample(metainfo=dict(img_id=img_id, img_shape=shape, ori_shape=shape))
    gt = InstanceData(
        bboxes=torch.tensor(gt_boxes, dtype=torch.float32).view(-1, 4),
        labels=torch.tensor(gt_labels, dtype=torch.long).view(-1),
    )
    gt.ignore_flags = torch.tensor(ignore if ignore is not None else [False] * len(gt_labels), dtype=torch.bool)
    s.gt_instances = gt
    s.pred_instances = InstanceData(
        bboxes=torch.tensor(pred_boxes, dtype=torch.float32).view(-1, 4),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(pred_labels, dtype=torch.long),
    )
    return s


def hand_worked_samples():
    g1, g2, g3 = [10, 10, 50, 50], [60, 60, 90, 90], [20, 20, 70, 70]
    a = make_sample(
        0, [g1, g2], [0, 0], [g1, [11, 11, 50, 50], [60, 61, 90, 90]], [0.9, 0.8, 0.7], [0, 0, 0], ignore=[False, True]
    )
    b = make_sample(1, [g3], [0], [[0, 0, 5, 5], [21, 20, 70, 70]], [0.6, 0.5], [0, 0])
    return [a, b]


@pytest.mark.parametrize("mode,expected", [("11points", 8.5 / 11), ("area", 0.75)])
def test_voc_hand_worked(mode, expected):
    # ranked: TP, FP (g1 taken), ignored (difficult g2), FP, TP -> recall .5 .5 .5 1, precision 1 .5 .33 .5
    metric = METRICS.build(dict(type="VOCMetric", mode=mode))
    metric.dataset_meta = dict(classes=("thing",))
    metric.process({}, [s.to_dict() for s in hand_worked_samples()])
    res = metric.evaluate(2)
    assert res["pascal_voc/mAP"] == pytest.approx(expected)


def test_voc_per_class_keys_name_the_iou():
    """The per-class keys name the IoU threshold they were computed at (AP75_ at 0.75, not AP50_)."""
    metric = METRICS.build(dict(type="VOCMetric", mode="area", iou_threshold=0.75))
    metric.dataset_meta = dict(classes=("thing",))
    metric.process({}, [s.to_dict() for s in hand_worked_samples()])
    res = metric.evaluate(2)
    assert set(res) == {"pascal_voc/mAP", "pascal_voc/AP75_thing"}


def devkit_ap(samples, num_classes, mode):  # noqa: C901 (the devkit's loop, kept as it reads)
    """The VOC devkit's loop, written independently: one detection at a time."""
    aps = []
    for c in range(num_classes):
        dets, gts, npos = [], {}, 0
        for i, s in enumerate(samples):
            gb, gl = s.gt_instances.bboxes.numpy(), s.gt_instances.labels.numpy()
            ig = s.gt_instances.ignore_flags.numpy()
            gts[i] = dict(boxes=gb[gl == c], difficult=ig[gl == c], det=np.zeros((gl == c).sum(), bool))
            npos += int((~ig[gl == c]).sum())
            p = s.pred_instances
            for b, sc, lab in zip(p.bboxes.numpy(), p.scores.numpy(), p.labels.numpy(), strict=True):
                if lab == c:
                    dets.append((sc, i, b))
        dets.sort(key=lambda d: -d[0])
        tp, fp = [], []
        for _, i, b in dets:
            g = gts[i]
            ovmax, jmax = -1.0, -1
            for j, gb in enumerate(g["boxes"]):
                iw = max(0.0, min(b[2], gb[2]) - max(b[0], gb[0]))
                ih = max(0.0, min(b[3], gb[3]) - max(b[1], gb[1]))
                inter = iw * ih
                uni = (b[2] - b[0]) * (b[3] - b[1]) + (gb[2] - gb[0]) * (gb[3] - gb[1]) - inter
                if inter / uni > ovmax:
                    ovmax, jmax = inter / uni, j
            if ovmax >= 0.5:
                if g["difficult"][jmax]:
                    continue
                if not g["det"][jmax]:
                    g["det"][jmax] = True
                    tp.append(1), fp.append(0)
                else:
                    tp.append(0), fp.append(1)
            else:
                tp.append(0), fp.append(1)
        if npos == 0:
            continue
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        rec, prec = tp / npos, tp / np.maximum(tp + fp, 1e-12)
        if mode == "11points":
            aps.append(np.mean([prec[rec >= t].max() if (rec >= t).any() else 0 for t in np.arange(0, 1.1, 0.1)]))
        else:
            mrec, mpre = np.concatenate(([0], rec, [1])), np.concatenate(([0], prec, [0]))
            for k in range(len(mpre) - 2, -1, -1):
                mpre[k] = max(mpre[k], mpre[k + 1])
            idx = np.where(mrec[1:] != mrec[:-1])[0]
            aps.append(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))
    return float(np.mean(aps))


def random_samples(n_images, num_classes, seed):
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n_images):
        g = rng.integers(0, 6)
        xy = rng.uniform(0, 70, (g, 2))
        gt = np.concatenate([xy, xy + rng.uniform(8, 30, (g, 2))], 1)
        gl = rng.integers(0, num_classes, g)
        ig = rng.random(g) < 0.2
        # detections: jittered copies of gts (some duplicates) plus random boxes
        jit = np.repeat(gt, 2, 0) + rng.normal(0, 3, (2 * g, 4))
        xy2 = rng.uniform(0, 70, (4, 2))
        rnd = np.concatenate([xy2, xy2 + rng.uniform(8, 30, (4, 2))], 1)
        boxes = np.concatenate([jit, rnd])
        labels = np.concatenate([np.repeat(gl, 2), rng.integers(0, num_classes, 4)])
        scores = rng.random(len(boxes))
        samples.append(
            make_sample(
                i, gt.tolist(), gl.tolist(), boxes.tolist(), scores.tolist(), labels.tolist(), ignore=ig.tolist()
            )
        )
    return samples


@pytest.mark.parametrize("mode", ["11points", "area"])
def test_voc_equals_independent_devkit_loop(mode):
    samples = random_samples(40, 4, seed=1)
    metric = VOCMetric(mode=mode, num_classes=4)
    metric.process({}, samples)
    assert metric.evaluate(40)["pascal_voc/mAP"] == pytest.approx(devkit_ap(samples, 4, mode), abs=1e-9)


def coco_files(tmp_path, samples, cat_ids):
    images = [dict(id=100 + i, width=100, height=100) for i in range(len(samples))]
    anns = []
    for i, s in enumerate(samples):
        for b, lab, ig in zip(
            s.gt_instances.bboxes.tolist(),
            s.gt_instances.labels.tolist(),
            s.gt_instances.ignore_flags.tolist(),
            strict=True,
        ):
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=100 + i,
                    category_id=cat_ids[lab],
                    iscrowd=int(ig),
                    bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
                    area=(b[2] - b[0]) * (b[3] - b[1]),
                )
            )
        s.set_metainfo(dict(img_id=100 + i))
    ann_file = tmp_path / "gt.json"
    ann_file.write_text(
        json.dumps(dict(images=images, annotations=anns, categories=[dict(id=c, name=str(c)) for c in cat_ids]))
    )
    return str(ann_file)


def pycocotools_stats(ann_file, samples, cat_ids):
    dets = [
        dict(
            image_id=s.metainfo["img_id"],
            category_id=cat_ids[int(lab)],
            score=float(sc),
            bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
        )
        for s in samples
        for b, sc, lab in zip(
            s.pred_instances.bboxes.tolist(), s.pred_instances.scores, s.pred_instances.labels, strict=True
        )
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.params.imgIds = sorted(s.metainfo["img_id"] for s in samples)
        ev.evaluate(), ev.accumulate(), ev.summarize()
    return ev.stats


def test_coco_equals_pycocotools_direct(tmp_path):
    cat_ids = [1, 3, 7]
    samples = random_samples(30, 3, seed=2)
    ann = coco_files(tmp_path, samples, cat_ids)
    metric = METRICS.build(dict(type="CocoMetric", ann_file=ann, outfile_prefix=str(tmp_path / "res")))
    metric.dataset_meta = dict(cat_ids=cat_ids)
    metric.process({}, [s.to_dict() for s in samples])
    res = metric.evaluate(30)
    np.testing.assert_allclose(
        [res[f"coco/{k}"] for k in ("AP", "AP50", "AP75", "AR100")],
        pycocotools_stats(ann, samples, cat_ids)[[0, 1, 2, 8]],
        atol=1e-12,
    )
    assert res["coco/AP50"] > 0.2
    written = json.loads((tmp_path / "res.bbox.json").read_text())
    assert len(written) == sum(len(s.pred_instances.scores) for s in samples)
    assert {d["category_id"] for d in written} <= set(cat_ids)


def test_coco_on_a_subset_of_images_and_without_ann_file(tmp_path):
    cat_ids = [2, 5]
    samples = random_samples(12, 2, seed=3)
    ann = coco_files(tmp_path, samples, cat_ids)
    subset = samples[:5]
    metric = CocoMetric(ann_file=ann, cat_ids=cat_ids)
    metric.process({}, subset)
    ours = metric.evaluate(5)["coco/AP"]
    assert ours == pytest.approx(pycocotools_stats(ann, subset, cat_ids)[0], abs=1e-12)
    built = CocoMetric(cat_ids=cat_ids)  # ground truth taken from the samples themselves
    built.process({}, subset)
    assert built.evaluate(5)["coco/AP"] == pytest.approx(ours, abs=1e-12)


def test_voc_table_says_which_classes_have_no_ground_truth():
    import logging

    from mmengine.logging import MMLogger

    logged: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    MMLogger.get_current_instance().addHandler(handler)
    metric = METRICS.build(dict(type="VOCMetric", mode="area"))
    metric.dataset_meta = dict(classes=("thing", "ghost"))  # no 'ghost' in the ground truth
    metric.process({}, [s.to_dict() for s in hand_worked_samples()])
    try:
        res = metric.compute_metrics(metric.results)
    finally:
        MMLogger.get_current_instance().removeHandler(handler)
    table = next(msg for msg in logged if "mAP" in msg)
    assert re.search(r"ghost\s+0\s+\d+.*no ground truth: not in the mAP", table)
    assert "over 1 of 2 classes, 1 without ground truth" in table
    assert res["mAP"] == pytest.approx(0.75)  # the hand-worked AP of 'thing' alone
