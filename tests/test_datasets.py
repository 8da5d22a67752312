"""VOCDataset and CocoDataset on small data the tests write; errors name the file and the fix."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset

from ssdkit.data import CocoDataset, VOCDataset

OBJ = (
    "<object><name>{name}</name><difficult>{d}</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
    "<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
)
PIPE = [dict(type="LoadImage"), dict(type="Resize", size=(300, 300)), dict(type="PackInputs")]


def write_voc(root, year=2007, ids=("a", "b"), suffix=".png", objects=None, with_filename=False):
    d = root / f"VOC{year}"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "ImageSets/Main/trainval.txt").write_text("\n".join(ids) + "\n")
    for i in ids:
        cv2.imwrite(str(d / "JPEGImages" / f"{i}{suffix}"), np.full((60, 80, 3), 128, np.uint8))
        objs = objects if objects is not None else [("dog", 0, (11, 21, 40, 50)), ("cat", 1, (1, 1, 80, 60))]
        fname = f"<filename>{i}{suffix}</filename>" if with_filename else ""
        xml = (
            f"<annotation>{fname}<size><width>80</width><height>60</height></size>"
            + "".join(OBJ.format(name=n, d=df, b=b) for n, df, b in objs)
            + "</annotation>"
        )
        (d / "Annotations" / f"{i}.xml").write_text(xml)
    return root


def test_voc_loads_png_converts_coordinates_and_flags_difficult(tmp_path):
    root = write_voc(tmp_path)
    train = VOCDataset(str(root), year=2007, img_suffix=".png", pipeline=PIPE)
    info = train.get_data_info(0)
    assert info["img_path"].endswith("a.png") and len(train) == 2
    dog, cat = info["instances"]
    assert dog["bbox"] == [10.0, 20.0, 40.0, 50.0] and dog["bbox_label"] == 11 and cat["bbox_label"] == 7
    assert not cat["ignore_flag"]  # difficult objects train as normal objects
    test = VOCDataset(str(root), year=2007, img_suffix=".png", test_mode=True, pipeline=PIPE)
    assert test.get_data_info(0)["instances"][1]["ignore_flag"]
    dropped = VOCDataset(str(root), year=2007, img_suffix=".png", drop_difficult=True, pipeline=PIPE)
    assert len(dropped.get_data_info(0)["instances"]) == 1
    out = train[0]
    assert tuple(out["inputs"].shape) == (3, 300, 300)
    np.testing.assert_allclose(out["data_samples"].gt_instances.bboxes[0].numpy(), [37.5, 100, 150, 250])


def test_voc_0712_concatenation_and_custom_classes(tmp_path):
    write_voc(tmp_path, 2007, ids=("a",), with_filename=True)
    write_voc(tmp_path, 2012, ids=("b", "c"), objects=[("dog", 0, (5, 5, 20, 20))])
    both = ConcatDataset([VOCDataset(str(tmp_path), year=y, img_suffix=".png", pipeline=PIPE) for y in (2007, 2012)])
    assert len(both) == 3
    custom = VOCDataset(str(tmp_path), year=2012, classes=["dog"], pipeline=PIPE)
    assert custom.metainfo["classes"] == ("dog",) and custom.get_data_info(0)["instances"][0]["bbox_label"] == 0


def test_voc_errors_name_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"VOC2007.*Expected the layout.*make demo"):
        VOCDataset(str(tmp_path), year=2007)
    root = write_voc(tmp_path)
    (root / "VOC2007/Annotations/b.xml").write_text("<annotation>\n<size></annotation>")
    with pytest.raises(ValueError, match=r"b\.xml' does not parse \(line 2"):
        VOCDataset(str(root), year=2007, img_suffix=".png")
    write_voc(tmp_path, objects=[("unicorn", 0, (1, 1, 5, 5))])
    with pytest.raises(ValueError, match=r"a\.xml' object 0 has class 'unicorn'"):
        VOCDataset(str(root), year=2007, img_suffix=".png")
    assert VOCDataset(str(root), year=2007, img_suffix=".png", unknown_class="skip").get_data_info(0)["instances"] == []


def test_voc_missing_or_bad_numbers_name_file_and_tag(tmp_path):
    root = write_voc(tmp_path, ids=("a",))
    xml = root / "VOC2007/Annotations/a.xml"
    text = xml.read_text()
    xml.write_text(text.replace("<xmax>40</xmax>", "", 1))
    with pytest.raises(ValueError, match=r"a\.xml' object 0: <xmax> is missing"):
        VOCDataset(str(root), year=2007, img_suffix=".png")
    xml.write_text(text.replace("<width>80</width>", "<width>eighty</width>"))
    with pytest.raises(ValueError, match=r"a\.xml': <width> is 'eighty', expected a number"):
        VOCDataset(str(root), year=2007, img_suffix=".png")


@pytest.mark.parametrize("mode", ["clip", "drop", "error"])
def test_nan_box_is_an_error_whatever_bad_box_says(tmp_path, mode):
    root = write_voc(tmp_path, ids=("a",), objects=[("dog", 0, ("nan", 11, 20, 30))])
    with pytest.raises(ValueError, match=r"a\.xml' object 0: <xmin> is 'nan', expected a finite number"):
        VOCDataset(str(root), year=2007, img_suffix=".png", bad_box=mode)
    from ssdkit.data.datasets.base import DetDataset  # any other dataset's NaN box: no bad_box mode repairs it

    probe = DetDataset.__new__(DetDataset)
    probe.bad_box, probe.bad_box_count = mode, 0
    with pytest.raises(ValueError, match=r"here: box \[nan.*NaN or infinite coordinate; fix the annotation"):
        probe.check_box([float("nan"), 1, 5, 5], 80, 60, "here")


@pytest.mark.parametrize("mode,expected", [("clip", [[0.0, 10.0, 80.0, 30.0]]), ("drop", [])])
def test_voc_bad_boxes_clipped_or_dropped_and_counted(tmp_path, mode, expected):
    root = write_voc(tmp_path, ids=("a",), objects=[("dog", 0, (-5, 11, 120, 30)), ("dog", 0, (30, 30, 25, 40))])
    ds = VOCDataset(str(root), year=2007, img_suffix=".png", bad_box=mode)
    assert [i["bbox"] for i in ds.get_data_info(0)["instances"]] == expected and ds.bad_box_count == 2
    with pytest.raises(ValueError, match=r"a\.xml' object 0: box .* outside the 80.0x60.0 image"):
        VOCDataset(str(root), year=2007, img_suffix=".png", bad_box="error")


def test_bad_image_error_or_skip(tmp_path):
    root = write_voc(tmp_path)
    (root / "VOC2007/JPEGImages/a.png").write_bytes(b"not an image")
    ds = VOCDataset(str(root), year=2007, img_suffix=".png", pipeline=PIPE)
    with pytest.raises(ValueError, match=r"cannot read image '.*a\.png'"):
        ds[0]
    skip = VOCDataset(str(root), year=2007, img_suffix=".png", pipeline=PIPE, on_bad_image="skip")
    assert skip[0]["data_samples"].metainfo["img_id"] == "b" and skip.bad_image_count >= 1


def write_coco(tmp_path):
    (tmp_path / "img").mkdir()
    images, anns = [], []
    for i in range(3):
        cv2.imwrite(str(tmp_path / "img" / f"{i}.jpg"), np.full((50, 70, 3), 90, np.uint8))
        images.append(dict(id=10 + i, file_name=f"{i}.jpg", width=70, height=50))
    anns.append(dict(id=1, image_id=10, category_id=7, bbox=[5, 5, 20, 10], area=200, iscrowd=0))
    anns.append(dict(id=2, image_id=10, category_id=3, bbox=[30, 20, 30, 25], area=750, iscrowd=1))
    anns.append(dict(id=3, image_id=11, category_id=3, bbox=[0, 0, 10, 10], area=100, iscrowd=1))
    cats = [dict(id=7, name="seven"), dict(id=3, name="three")]
    (tmp_path / "ann.json").write_text(json.dumps(dict(images=images, annotations=anns, categories=cats), indent=1))
    return tmp_path


def test_coco_labels_crowd_and_filtering(tmp_path):
    root = write_coco(tmp_path)
    train = CocoDataset(data_root=str(root), ann_file="ann.json", data_prefix=dict(img="img/"), pipeline=PIPE)
    assert train.metainfo["cat_ids"] == (3, 7) and train.metainfo["classes"] == ("three", "seven")
    assert len(train) == 1  # images 11 (crowd only) and 12 (empty) filtered in training
    inst = train.get_data_info(0)["instances"]
    assert [(i["bbox_label"], i["ignore_flag"]) for i in inst] == [(1, False), (0, True)]
    assert inst[0]["bbox"] == [5.0, 5.0, 25.0, 15.0]
    test = CocoDataset(
        data_root=str(root), ann_file="ann.json", data_prefix=dict(img="img/"), test_mode=True, pipeline=PIPE
    )
    assert len(test) == 3 and test[2]["data_samples"].metainfo["img_id"] == 12


def test_coco_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json' does not exist"):
        CocoDataset(data_root=str(tmp_path), ann_file="nope.json")
    root = write_coco(tmp_path)
    text = (root / "ann.json").read_text().splitlines()
    text[3] = text[3] + ","
    (root / "ann.json").write_text("\n".join(text[:4]) + "\n}")
    with pytest.raises(ValueError, match=r"ann\.json' is not valid json \(line \d+"):
        CocoDataset(data_root=str(root), ann_file="ann.json")


@pytest.mark.slow
def test_browse_dataset_writes_drawn_training_samples(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    root = write_coco(tmp_path)
    cfg = tmp_path / "cfg.py"
    cfg.write_text(
        f"_base_ = ['{repo}/configs/_base_/models/ssd300_vgg16.py', "
        f"'{repo}/configs/_base_/datasets/ssd_pipelines.py']\n"
        f"train_dataloader = dict(dataset=dict(type='CocoDataset', data_root='{root}', "
        f"ann_file='ann.json', data_prefix=dict(img='img/'), filter_empty_gt=False, "
        f"pipeline={{{{_base_.train_pipeline_300}}}}))\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(repo / "tools/browse_dataset.py"),
            str(cfg),
            "--out-dir",
            str(tmp_path / "out"),
            "--num",
            "3",
        ],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert proc.returncode == 0, proc.stderr
    files = sorted((tmp_path / "out").glob("*.jpg"))
    assert len(files) == 3 and cv2.imread(str(files[0])).shape == (300, 300, 3)


def test_mmengine_dataset_features_indices_lazy_init_serialisation(tmp_path):
    root = write_voc(tmp_path)
    lazy = VOCDataset(str(root), year=2007, img_suffix=".png", lazy_init=True, pipeline=PIPE)
    assert not lazy._fully_initialized
    lazy.full_init()
    assert len(lazy) == 2 and lazy._fully_initialized and lazy.serialize_data
    one = VOCDataset(str(root), year=2007, img_suffix=".png", indices=[1], pipeline=PIPE)
    assert len(one) == 1 and one.get_data_info(0)["img_id"] == "b"
