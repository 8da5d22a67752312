"""The bundled demo set: deterministic, COCO-valid, several objects per image, every SSD scale used."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from ssdkit.data import CocoDataset
from ssdkit.data.demo import digit_pools, make_demo_dataset


def test_demo_set_is_valid_varied_and_deterministic(tmp_path):
    a = make_demo_dataset(str(tmp_path / "a"), seed=3, num_train=40, num_val=8)
    b = make_demo_dataset(str(tmp_path / "b"), seed=3, num_train=40, num_val=8)
    for split in ("train", "val"):
        ja = (tmp_path / "a/annotations" / f"instances_{split}.json").read_text()
        assert ja == (tmp_path / "b/annotations" / f"instances_{split}.json").read_text()
    assert (tmp_path / "a/train/00005.jpg").read_bytes() == (tmp_path / "b/train/00005.jpg").read_bytes()
    assert a["train"]["boxes"] >= 2 * 40 and a == {**b, "out_dir": a["out_dir"]}
    coco = COCO(str(tmp_path / "a/annotations/instances_train.json"))
    assert sorted(coco.getCatIds()) == list(range(1, 11))
    sides = []
    for img in coco.loadImgs(coco.getImgIds()):
        pixels = cv2.imread(str(tmp_path / "a/train" / img["file_name"]))
        assert pixels.shape == (img["height"], img["width"], 3)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])):
            x, y, w, h = ann["bbox"]
            assert 0 <= x and 0 <= y and x + w <= img["width"] and y + h <= img["height"] and w > 0 and h > 0
            sides.append(max(w, h))
    # sized to the demo model's priors (0.1 .. 0.8 of 300 px): from below the first level to the large ones
    assert 15 <= min(sides) < 0.2 * 300 and max(sides) > 0.4 * 320
    assert make_demo_dataset(str(tmp_path / "a"), seed=3, num_train=40, num_val=8)["skipped"]  # same options: kept
    rebuilt = make_demo_dataset(str(tmp_path / "a"), seed=4, num_train=6, num_val=2)  # other options: rebuilt
    assert "skipped" not in rebuilt and rebuilt["train"]["images"] == 6


def test_backdrops_are_softened_photographs_and_sizes_follow_the_options(tmp_path):
    from ssdkit.data.demo import load_photos, soften

    photo = load_photos()[0]
    soft = soften(photo, 8.0, 0.35)
    assert soft.shape == photo.shape and soft.std() < 0.35 * photo.astype(float).std() + 1
    assert abs(float(soft.mean()) - 128) < 2  # re-centred at mid-grey
    assert np.array_equal(soften(photo, 0.0, 1.0), photo)  # the photographs as they are
    harsh = make_demo_dataset(
        str(tmp_path / "h"),
        num_train=30,
        num_val=2,
        min_px=10,
        max_frac=0.7,
        max_objects=6,
        backdrop_blur=0,
        backdrop_contrast=1,
    )
    assert harsh["train"]["min_px"] < 15 and harsh["train"]["boxes"] > 30 * 2.5  # smaller and more digits


def test_stroke_contrast_changes_pixels_not_boxes(tmp_path):
    soft = make_demo_dataset(str(tmp_path / "s1"), num_train=3, num_val=1, stroke_contrast=1.0)
    crisp = make_demo_dataset(str(tmp_path / "s2"), num_train=3, num_val=1, stroke_contrast=2.0)
    assert soft["train"] == crisp["train"]
    ann = "annotations/instances_train.json"
    assert (tmp_path / "s1" / ann).read_text() == (tmp_path / "s2" / ann).read_text()
    a = cv2.imread(str(tmp_path / "s1/train/00000.jpg")).astype(int)
    b = cv2.imread(str(tmp_path / "s2/train/00000.jpg")).astype(int)
    assert np.abs(a - b).max() > 40  # the same digits, drawn with harder edges


def test_train_and_val_digits_are_disjoint_and_loadable(tmp_path):
    pools = digit_pools(0)
    assert not set(pools["train"]) & set(pools["val"]) and len(pools["train"]) + len(pools["val"]) == 1797
    make_demo_dataset(str(tmp_path / "d"), num_train=4, num_val=4)
    ds = CocoDataset(
        data_root=str(tmp_path / "d"),
        ann_file="annotations/instances_val.json",
        data_prefix=dict(img="val/"),
        test_mode=True,
        pipeline=[dict(type="LoadImage"), dict(type="Resize", size=(300, 300)), dict(type="PackInputs")],
    )
    assert len(ds) == 4 and ds.metainfo["classes"][0] == "digit_0"
    item = ds[0]
    assert tuple(item["inputs"].shape) == (3, 300, 300) and len(item["data_samples"].gt_instances.bboxes) >= 1
    assert not np.isnan(item["data_samples"].gt_instances.bboxes.numpy()).any()


def test_demo_config_trains_and_evaluates_with_mmengine_runner(tmp_path):
    """configs/demo/ssdlite224_mobilenet_demo.py end to end: dataset -> pipeline -> model -> loss -> VOCMetric."""
    from mmengine.runner import Runner

    import ssdkit.evaluation  # noqa: F401
    import ssdkit.models  # noqa: F401

    from model_utils import demo_config

    data = tmp_path / "demo"
    make_demo_dataset(str(data), num_train=16, num_val=4)
    cfg = demo_config(str(data), str(tmp_path / "work"), num_workers=0, persistent_workers=False, batch_size=4)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=3, val_interval=3)
    cfg.default_hooks.checkpoint.interval = 3
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert (tmp_path / "work" / "iter_3.pth").exists()
    logged = runner.message_hub.get_scalar("val/pascal_voc/mAP").current()
    assert 0.0 <= logged <= 1.0
    again = runner.val_loop.run()  # evaluation is deterministic: the model in eval mode, no state carried over
    assert again["pascal_voc/mAP"] == pytest.approx(logged, abs=1e-9)


def test_make_demo_dataset_tool_takes_the_configs_data_options(tmp_path):
    """``--config``: the set the demo config trains on (its data_root and demo_dataset), flags on top."""
    from model_utils import ROOT, load_config, load_tool

    tool = load_tool("make_demo_dataset")

    cfg = load_config("demo/ssdlite224_mobilenet_demo")
    out, opts = tool.options(
        tool.parse_args(["--config", str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py"), "--num-train", "3"])
    )
    assert out == cfg.data_root and opts["num_train"] == 3
    side = cfg.demo_dataset.image_size
    assert opts == dict(
        cfg.demo_dataset, num_train=3, image_size=(side, side), aspect_range=tuple(cfg.demo_dataset.aspect_range)
    )
    tool.main(
        [
            "--config",
            str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py"),
            "--out",
            str(tmp_path / "d"),
            "--num-train",
            "3",
            "--num-val",
            "1",
        ]
    )
    made = json.loads((tmp_path / "d" / "options.json").read_text())
    assert made["num_train"] == 3 and made["image_size"] == list(opts["image_size"])
    bad = tmp_path / "bad.py"
    bad.write_text("data_root = 'x'\ndemo_dataset = dict(image_sise=224)\n")
    with pytest.raises(SystemExit, match=r"bad.py: demo_dataset.image_sise is not an option.*image_size"):
        tool.options(tool.parse_args(["--config", str(bad)]))


def test_small_objects_set_reads_back_through_voc_with_its_sizes_and_crowding(tmp_path):
    from ssdkit.data.datasets import VOCDataset
    from ssdkit.data.small_objects import make_small_objects_dataset

    made = make_small_objects_dataset(str(tmp_path / "s"), num_train=6, num_val=2, max_objects=30, num_classes=3)
    classes = made["classes"]
    assert classes == ("digit_0", "digit_1", "digit_2")
    again = make_small_objects_dataset(str(tmp_path / "s"), num_train=6, num_val=2, max_objects=30, num_classes=3)
    assert again["skipped"] is True  # same options: kept
    ds = VOCDataset(str(tmp_path / "s"), year=None, split="train", metainfo=dict(classes=classes), pipeline=[])
    assert len(ds) == 6
    boxes = np.concatenate([np.array([o["bbox"] for o in ds.get_data_info(i)["instances"]]) for i in range(6)])
    assert len(boxes) == made["train"]["objects"] > 6 * 5  # tens of objects to an image on average
    longer = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert longer.min() >= 4 and longer.max() <= 30  # tight boxes inside the drawn 8..30 px digits
    labels = {o["bbox_label"] for i in range(6) for o in ds.get_data_info(i)["instances"]}
    assert labels <= {0, 1, 2} and len(labels) > 1
    img = cv2.imread(ds.get_data_info(0)["img_path"])
    assert img.shape == (400, 400, 3)
    x1, y1, x2, y2 = (int(v) for v in boxes[0])
    assert img[y1:y2, x1:x2].std() > 10  # a digit drawn where its box says
