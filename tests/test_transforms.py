"""The §2.2 pipeline: boxes move with the image; none lost or created except by the crop's centre rule."""

from __future__ import annotations

import numpy as np
import pytest

from ssdkit.data import Expand, MinIoURandomCrop, PackInputs, PhotometricDistortion, RandomFlip, Resize
from ssdkit.data.datasets.base import build_pipeline


def sample(rng, n=5, h=375, w=500):
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    xy = rng.uniform(0, [w - 20, h - 20], (n, 2))
    wh = rng.uniform(8, 200, (n, 2))
    boxes = np.concatenate([xy, np.minimum(xy + wh, [w, h])], 1).astype(np.float32)
    return dict(img=img, img_id=0, img_path="x.jpg", ori_shape=(h, w), img_shape=(h, w), gt_bboxes=boxes,
                gt_labels=np.arange(n, dtype=np.int64), gt_ignore_flags=np.arange(n) % 2 == 0)


def inside(results):
    h, w = results["img"].shape[:2]
    b = results["gt_bboxes"]
    return bool(((b[:, 0] >= 0) & (b[:, 1] >= 0) & (b[:, 2] <= w + 1e-3) & (b[:, 3] <= h + 1e-3)
                 & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).all())


def test_expand_and_flip_keep_every_box_and_its_pixels():
    rng = np.random.default_rng(0)
    for seed in range(50):
        s = sample(rng)
        labels, flags = s["gt_labels"].copy(), s["gt_ignore_flags"].copy()
        patch = s["img"][int(s["gt_bboxes"][0, 1]) + 2, int(s["gt_bboxes"][0, 0]) + 2].copy()
        out = RandomFlip(1.0, seed=seed)(Expand(prob=1.0, seed=seed)(s))
        assert inside(out) and (out["gt_labels"] == labels).all() and (out["gt_ignore_flags"] == flags).all()
        b = out["gt_bboxes"][0]  # the same pixel, mirrored inside the moved box
        x = int(np.floor(b[2] - 2 - 1e-3))
        assert (out["img"][int(b[1]) + 2, x] == patch).all()


def test_min_iou_crop_centre_rule_over_many_draws():
    rng = np.random.default_rng(1)
    crop = MinIoURandomCrop(seed=3)
    cropped = 0
    for _ in range(300):
        s = sample(rng)
        boxes = s["gt_bboxes"].copy()
        out = crop(dict(s))
        assert inside(out)
        if "crop_box" not in out:
            assert len(out["gt_labels"]) == 5
            continue
        cropped += 1
        patch = out["crop_box"]
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        expected = np.nonzero(((centres > patch[:2]) & (centres < patch[2:])).all(1))[0]
        assert out["gt_labels"].tolist() == expected.tolist()  # kept exactly by the centre rule
        clipped = np.concatenate([np.maximum(boxes[expected, :2], patch[:2]),
                                  np.minimum(boxes[expected, 2:], patch[2:])], 1) - np.tile(patch[:2], 2)
        np.testing.assert_allclose(out["gt_bboxes"], clipped, atol=1e-4)
        assert (out["gt_ignore_flags"] == (expected % 2 == 0)).all()
        ph, pw = patch[3] - patch[1], patch[2] - patch[0]
        assert out["img"].shape[:2] == (ph, pw) and 0.5 <= ph / pw <= 2
    assert cropped > 100


def test_resize_scales_boxes_and_pack_inputs():
    s = sample(np.random.default_rng(2))
    out = PackInputs()(Resize((300, 300))(dict(s)))
    assert tuple(out["inputs"].shape) == (3, 300, 300)
    gt = out["data_samples"].gt_instances
    np.testing.assert_allclose(gt.bboxes.numpy(), s["gt_bboxes"] * np.array([300 / 500, 300 / 375] * 2), rtol=1e-5)
    assert out["data_samples"].metainfo["img_shape"] == (300, 300)
    with pytest.raises(ValueError, match="interpolation"):
        Resize(300, interpolation="bogus")


def test_photometric_is_seedable_and_in_range():
    s = sample(np.random.default_rng(3))
    a = PhotometricDistortion(seed=7)(dict(s))["img"]
    b = PhotometricDistortion(seed=7)(dict(s))["img"]
    c = PhotometricDistortion(seed=8)(dict(s))["img"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == np.uint8 and a.shape == s["img"].shape


def test_full_training_pipeline_many_draws():
    pipe = build_pipeline([dict(type="PhotometricDistortion"), dict(type="Expand", mean=[123, 117, 104]),
                           dict(type="MinIoURandomCrop"), dict(type="Resize", size=(300, 300)),
                           dict(type="RandomFlip"), dict(type="PackInputs")])
    rng = np.random.default_rng(4)
    np.random.seed(0)
    for _ in range(100):
        s = sample(rng)
        out = pipe(s)
        b = out["data_samples"].gt_instances.bboxes
        assert out["inputs"].shape == (3, 300, 300)
        assert len(b) <= 5 and (b[:, :2] >= 0).all() and (b[:, 2:] <= 300 + 1e-3).all()
        assert ((b[:, 2:] - b[:, :2]) > 0).all()
