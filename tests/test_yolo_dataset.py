"""YOLODataset: one set of objects written as VOC xml, COCO json and YOLO txt gives the same ground truth; bad lines
are errors naming the file and line, or follow ``bad_box``; configs/examples/custom_yolo.py trains on such a folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ssdkit.data import CocoDataset, VOCDataset, YOLODataset
from ssdkit.data.datasets.base import build_pipeline
from ssdkit.engine.checks import dataset_classes

from model_utils import ROOT, load_tool

PIPE = [dict(type="LoadImage"), dict(type="Resize", size=(300, 300)), dict(type="PackInputs")]
CLASSES = ("cat", "dog", "bird")
#: image name -> (width, height, [(class index, x1, y1, x2, y2) in pixels]); one image without objects
SET = {
    "im0": (320, 240, [(0, 20, 30, 100, 90), (1, 150, 100, 320, 240)]),
    "im1": (200, 300, [(2, 0, 0, 37, 53), (0, 11, 17, 190, 280), (0, 50, 60, 70, 80)]),
    "im2": (160, 120, []),
}
DIGITS = 6  # decimals of the normalised YOLO coordinates, as labelling tools write them


def yolo_tolerance(width: int, height: int) -> float:
    """Largest pixel error of a box corner read from ``cx cy w h`` rounded to DIGITS decimals:
    ``x1 = (cx - w/2) W`` is off by at most ``(1 + 1/2)`` half-units of the last decimal times ``W``."""
    return 1.5 * 0.5 * 10.0**-DIGITS * max(width, height) + 1e-9


def write_images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (w, h, _) in SET.items():
        cv2.imwrite(str(folder / f"{name}.jpg"), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def write_voc(root: Path) -> None:
    write_images(root / "JPEGImages")
    (root / "Annotations").mkdir()
    (root / "ImageSets/Main").mkdir(parents=True)
    for name, (w, h, objs) in SET.items():
        xml = "".join(
            f"<object><name>{CLASSES[c]}</name><difficult>0</difficult><bndbox><xmin>{x1 + 1}</xmin>"
            f"<ymin>{y1 + 1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            for c, x1, y1, x2, y2 in objs
        )
        (root / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.jpg</filename><size><width>{w}</width><height>{h}</height></size>"
            f"{xml}</annotation>"
        )
    (root / "ImageSets/Main/val.txt").write_text("\n".join(SET) + "\n")


def write_coco(root: Path) -> None:
    write_images(root / "images")
    images, anns = [], []
    for i, (name, (w, h, objs)) in enumerate(SET.items()):
        images.append(dict(id=i + 1, file_name=f"{name}.jpg", width=w, height=h))
        for c, x1, y1, x2, y2 in objs:
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=c + 1, bbox=[x1, y1, x2 - x1, y2 - y1]))
    cats = [dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)]
    (root / "annotations").mkdir()
    (root / "annotations/val.json").write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))


def write_yolo(root: Path, names: object = None, split: str = "val") -> None:
    write_images(root / "images" / split)
    (root / "labels" / split).mkdir(parents=True)
    for name, (w, h, objs) in SET.items():
        lines = [
            f"{c} {(x1 + x2) / 2 / w:.{DIGITS}f} {(y1 + y2) / 2 / h:.{DIGITS}f} {(x2 - x1) / w:.{DIGITS}f} "
            f"{(y2 - y1) / h:.{DIGITS}f}"
            for c, x1, y1, x2, y2 in objs
        ]
        if lines:  # im2 has no label file at all: no objects
            (root / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + "\n")
    names = list(CLASSES) if names is None else names
    (root / "data.yaml").write_text(f"names: {json.dumps(names)}\n{split}: images/{split}\n")


def ground_truth(dataset) -> dict[str, tuple[np.ndarray, list[int]]]:
    """image file name -> (boxes [N, 4] xyxy pixels, labels)."""
    out = {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        boxes = np.array([inst["bbox"] for inst in info["instances"]], np.float64).reshape(-1, 4)
        out[Path(info["img_path"]).name] = (boxes, [inst["bbox_label"] for inst in info["instances"]])
    return out


def test_the_same_objects_in_voc_coco_and_yolo_give_the_same_ground_truth(tmp_path):
    write_voc(tmp_path / "voc")
    write_coco(tmp_path / "coco")
    write_yolo(tmp_path / "yolo")
    loaders = {
        "voc": VOCDataset(str(tmp_path / "voc"), year=None, split="val", classes=CLASSES, test_mode=True),
        "coco": CocoDataset(
            data_root=str(tmp_path / "coco"),
            ann_file="annotations/val.json",
            data_prefix=dict(img="images/"),
            test_mode=True,
        ),
        "yolo": YOLODataset(str(tmp_path / "yolo"), split="val", test_mode=True),
    }
    for dataset in loaders.values():
        assert tuple(dataset.metainfo["classes"]) == CLASSES
    truth = {k: ground_truth(d) for k, d in loaders.items()}
    assert sorted(truth["yolo"]) == sorted(truth["voc"]) == sorted(truth["coco"]) == [f"{n}.jpg" for n in SET]
    for name, (w, h, objs) in SET.items():
        expected = np.array([o[1:] for o in objs], np.float64).reshape(-1, 4)
        for kind in ("voc", "coco"):
            np.testing.assert_array_equal(truth[kind][f"{name}.jpg"][0], expected)
            assert truth[kind][f"{name}.jpg"][1] == [o[0] for o in objs]
        boxes, labels = truth["yolo"][f"{name}.jpg"]
        assert labels == [o[0] for o in objs]
        np.testing.assert_allclose(boxes, expected, rtol=0, atol=yolo_tolerance(w, h))
    assert loaders["yolo"].bad_box_count == 0  # boxes touching the image edge are not "outside" it
    for kind in ("voc", "yolo"):  # through a pipeline: the same images and boxes reach the model
        loaders[kind].pipeline = build_pipeline(PIPE)
    for i in range(len(SET)):
        voc, yolo = loaders["voc"][i], loaders["yolo"][i]
        assert torch.equal(voc["inputs"], yolo["inputs"]) and tuple(yolo["inputs"].shape) == (3, 300, 300)
        np.testing.assert_allclose(
            yolo["data_samples"].gt_instances.bboxes.numpy(), voc["data_samples"].gt_instances.bboxes.numpy(), atol=1e-3
        )


def test_names_as_a_dict_a_txt_list_and_roboflows_relative_paths(tmp_path):
    write_yolo(tmp_path, names={0: "cat", 1: "dog", 2: "bird"}, split="train")
    reference = ground_truth(YOLODataset(str(tmp_path), split="train"))
    (tmp_path / "train.txt").write_text("".join(f"./images/train/{n}.jpg\n" for n in SET))
    (tmp_path / "data.yaml").write_text(
        "names: {0: cat, 1: dog, 2: bird}\nnc: 3\ntrain: train.txt\nval: ../images/train\n"
    )
    listed, roboflow = YOLODataset(str(tmp_path), split="train"), YOLODataset(str(tmp_path), split="val")
    assert listed.metainfo["classes"] == CLASSES
    for other in (ground_truth(listed), ground_truth(roboflow)):
        assert other.keys() == reference.keys()
        for name in reference:
            np.testing.assert_array_equal(other[name][0], reference[name][0])
    (tmp_path / "labels/train/im0.txt").write_text("\n\n")  # an empty label file: no objects
    assert len(YOLODataset(str(tmp_path), split="train").get_data_info(0)["instances"]) == 0


@pytest.mark.parametrize(
    "line, message",
    [
        ("0 0.5 0.5 0.2", r"line 2: 4 fields, expected 5: class cx cy w h"),
        ("0 0.5 0.5 0.2 0.2 0.1 0.1", r"line 2: 7 fields, expected 5"),
        ("3 0.5 0.5 0.2 0.2", r"line 2: class id 3 is not one of data.yaml's names \(0..2\)"),
        ("1.5 0.5 0.5 0.2 0.2", r"line 2: class id 1.5 is not one of"),
        ("cat 0.5 0.5 0.2 0.2", r"line 2: the class id is 'cat', expected a number"),
        ("0 0.5 nan 0.2 0.2", r"line 2: cy is 'nan', expected a finite number"),
    ],
)
def test_a_bad_line_is_an_error_naming_file_and_line(tmp_path, line, message):
    write_yolo(tmp_path)
    label = tmp_path / "labels/val/im1.txt"
    label.write_text(label.read_text().splitlines()[0] + f"\n{line}\n")
    with pytest.raises(ValueError, match=re.escape(f"YOLODataset: '{label}' ") + message):
        YOLODataset(str(tmp_path), split="val")


def test_coordinates_outside_0_1_follow_bad_box(tmp_path):
    write_yolo(tmp_path)
    label = tmp_path / "labels/val/im0.txt"
    label.write_text("0 0.95 0.5 0.2 0.2\n1 1.5 0.5 0.2 0.2\n")  # the first pokes out, the second is outside
    with pytest.raises(ValueError, match=re.escape(f"'{label}' line 1: box ") + r".*outside the 320x240 image"):
        YOLODataset(str(tmp_path), split="val", bad_box="error")
    clipped = YOLODataset(str(tmp_path), split="val", bad_box="clip")
    (inst,) = clipped.get_data_info(0)["instances"]
    assert inst["bbox"] == pytest.approx([272.0, 96.0, 320.0, 144.0]) and clipped.bad_box_count == 2
    dropped = YOLODataset(str(tmp_path), split="val", bad_box="drop")
    assert dropped.get_data_info(0)["instances"] == [] and dropped.bad_box_count == 2


def test_layout_errors_name_the_file_and_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'.*/data.yaml' does not exist; expected the layout data.yaml"):
        YOLODataset(str(tmp_path), split="val")
    write_yolo(tmp_path)
    with pytest.raises(ValueError, match=r"has no split 'train'; it has \['val'\]"):
        YOLODataset(str(tmp_path), split="train")
    (tmp_path / "data.yaml").write_text("names: [cat, dog]\nnc: 3\nval: images/val\n")
    with pytest.raises(ValueError, match=r"nc is 3 but names has 2 classes"):
        YOLODataset(str(tmp_path), split="val")
    (tmp_path / "data.yaml").write_text("names: [cat, dog, bird]\nval: images/nowhere\n")
    with pytest.raises(FileNotFoundError, match=r"val 'images/nowhere' is neither a folder of images nor a .txt"):
        YOLODataset(str(tmp_path), split="val")


def test_num_classes_comes_from_data_yaml(tmp_path):
    write_yolo(tmp_path)
    assert dataset_classes(dict(type="YOLODataset", data_root=str(tmp_path))) == CLASSES
    assert dataset_classes(dict(type="YOLODataset", data_root=str(tmp_path / "missing"))) is None


@pytest.mark.slow
def test_custom_yolo_trains_with_only_its_root_edited(tmp_path):
    """Copy configs/examples/custom_yolo.py, edit data_root, train two iterations and validate (about 30 s)."""
    data = tmp_path / "my_yolo"
    write_yolo(data, split="train")
    shutil.copytree(data / "images/train", data / "images/val")
    shutil.copytree(data / "labels/train", data / "labels/val")
    (data / "data.yaml").write_text("names: [cat, dog, bird]\ntrain: images/train\nval: images/val\n")
    text = (ROOT / "configs/examples/custom_yolo.py").read_text()
    edited = text.replace("data_root = 'data/my_yolo/'", f"data_root = '{data}/'")
    assert edited != text
    (tmp_path / "my_data.py").write_text(edited)
    options = ["train_cfg.max_iters=2", "train_cfg.val_interval=2", "default_hooks.checkpoint.interval=2"]
    options += ["train_dataloader.batch_size=2", "default_hooks.logger.interval=1"]
    load_tool("train").main(
        [str(tmp_path / "my_data.py"), "--work-dir", str(tmp_path / "w"), "--cfg-options", *options]
    )
    assert (tmp_path / "w/iter_2.pth").exists()
    (scalars,) = tmp_path.glob("w/*/vis_data/scalars.json")
    assert any("pascal_voc/mAP" in json.loads(line) for line in scalars.read_text().splitlines())
