"""Bad COCO json: each case fails naming the file, the record and the field, or follows ``bad_box``; never a
traceback from inside pycocotools, numpy or the json reader."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ssdkit.data import CocoDataset
from ssdkit.data.datasets import coco as coco_module

PIPE = [dict(type="LoadImage"), dict(type="PackInputs")]


def doc() -> dict:
    return dict(
        images=[dict(id=1, file_name="a.jpg", width=80, height=60), dict(id=2, file_name="b.jpg", width=80, height=60)],
        annotations=[
            dict(id=1, image_id=1, category_id=1, bbox=[10, 20, 30, 30], area=900, iscrowd=0),
            dict(id=2, image_id=2, category_id=1, bbox=[0, 0, 20, 20], area=400, iscrowd=0),
        ],
        categories=[dict(id=1, name="dog")],
    )


def changed(change: Callable[[dict], object]) -> str:
    d = doc()
    change(d)
    return json.dumps(d)


#: label -> (file text, the message's part after the file name)
REFUSED: dict[str, tuple[str | bytes, str]] = {
    "no images": (changed(lambda d: d.pop("images")), "has no 'images' (its keys: annotations, categories)"),
    "no annotations": (changed(lambda d: d.pop("annotations")), "has no 'annotations'"),
    "no categories": (changed(lambda d: d.pop("categories")), "has no 'categories'"),
    "images not a list": (changed(lambda d: d.update(images={"1": 1})), "'images' is a dict, expected a list"),
    "orphan annotation": (
        changed(lambda d: d["annotations"][1].update(image_id=9)),
        "annotations[1] (id 2): 'image_id' 9 is not among the images",
    ),
    "duplicate image id": (changed(lambda d: d["images"][1].update(id=1)), "images[1] 'id' 1 repeats images[0]"),
    "duplicate annotation id": (
        changed(lambda d: d["annotations"][1].update(id=1)),
        "annotations[1] 'id' 1 repeats annotations[0]",
    ),
    "list image_id": (
        changed(lambda d: d["annotations"][0].update(image_id=[1])),
        "annotations[0] (id 1): 'image_id' is [1], expected an integer",
    ),
    "bbox of 5": (
        changed(lambda d: d["annotations"][0].update(bbox=[1, 2, 3, 4, 5])),
        "annotation 1 (image 1): 'bbox'",
    ),
    "bbox strings": (
        changed(lambda d: d["annotations"][0].update(bbox=["a", "b", "c", "d"])),
        "annotation 1 (image 1): 'bbox' ['a', 'b', 'c', 'd'] holds a non-number",
    ),
    "nan width": (
        changed(lambda d: d["annotations"][0].update(bbox=[10, 20, float("nan"), 30])),
        "annotation 1 (image 1): 'bbox' [10, 20, nan, 30] holds a NaN",
    ),
    "unknown category": (
        changed(lambda d: d["annotations"][0].update(category_id=7)),
        "annotation 1 (image 1): category_id 7 is not among the json's categories [1]",
    ),
    "empty file": ("", "is empty (0 bytes)"),
    "blank file": ("  \n", "is empty (3 bytes)"),
    "not json": (
        b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(200),
        "is not a COCO json object: it starts with b'\\xff\\xd8",
    ),
    "json list": ("[1, 2]", "is not a COCO json object: it starts with b'[1, 2]'"),
    "truncated json": (json.dumps(doc())[:-9], "is not valid json (line 1, column"),
    "not utf-8": (b'{"images": "\xff\xfe"}', "is not valid json: it holds bytes that are not UTF-8"),
}


def write(root: Path, content: str | bytes) -> None:
    root.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        (root / "ann.json").write_bytes(content)
    else:
        (root / "ann.json").write_text(content)


def dataset(root: Path, **kw) -> CocoDataset:
    return CocoDataset(data_root=str(root), ann_file="ann.json", pipeline=PIPE, filter_empty_gt=False, **kw)


@pytest.mark.parametrize("label", REFUSED)
def test_bad_json_is_refused_naming_file_record_and_field(label, tmp_path):
    content, expected = REFUSED[label]
    write(tmp_path, content)
    with pytest.raises(ValueError) as info:
        dataset(tmp_path)
    assert type(info.value) is ValueError, repr(info.value)
    message = str(info.value)
    assert message.startswith(f"CocoDataset: '{tmp_path}/ann.json' ") and expected in message, message
    assert "\n" not in message


@pytest.mark.parametrize(("mode", "kept"), [("clip", [[0.0, 0.0, 20.0, 20.0]]), ("drop", [[0.0, 0.0, 20.0, 20.0]])])
def test_negative_width_follows_bad_box(mode, kept, tmp_path):
    write(tmp_path, changed(lambda d: d["annotations"][0].update(bbox=[10, 20, -30, 30])))
    ds = dataset(tmp_path, bad_box=mode)
    boxes = [inst["bbox"] for i in range(len(ds)) for inst in ds.get_data_info(i)["instances"]]
    assert boxes == kept and ds.bad_box_count == 1


def test_negative_width_with_bad_box_error_names_the_annotation(tmp_path):
    write(tmp_path, changed(lambda d: d["annotations"][0].update(bbox=[10, 20, -30, 30])))
    with pytest.raises(ValueError, match=r"ann\.json' annotation 1 \(image 1\)"):
        dataset(tmp_path, bad_box="error")


def test_test_mode_needs_no_annotations(tmp_path):
    """An image-info file (COCO's test-dev) has images and categories only."""
    write(tmp_path, changed(lambda d: d.pop("annotations")))
    ds = dataset(tmp_path, test_mode=True)
    assert [ds.get_data_info(i)["img_id"] for i in range(len(ds))] == [1, 2]


def test_a_large_file_of_something_else_is_refused_before_parsing(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the whole file was parsed")

    monkeypatch.setattr(coco_module.json, "load", never)
    write(tmp_path, b"\x00" * 1_000_000)
    with pytest.raises(ValueError, match=r"ann\.json' is not a COCO json object: it starts with b'\\x00"):
        dataset(tmp_path)


def test_the_config_check_names_the_file_in_one_line(tmp_path):
    """``model.num_classes`` from a COCO json's categories: a bad json is a ConfigError (the tools' one line)."""
    from ssdkit.engine import ConfigError
    from ssdkit.engine.checks import dataset_classes

    write(tmp_path, b"\x89PNG\r\n")
    with pytest.raises(ConfigError, match=r"ann\.json' is not a COCO json object"):
        dataset_classes(dict(type="CocoDataset", data_root=str(tmp_path), ann_file="ann.json"))
    write(tmp_path, changed(lambda d: d["categories"].append(dict(id=1, name="cat"))))
    with pytest.raises(ConfigError, match=r"categories\[1\] 'id' 1 repeats categories\[0\]"):
        dataset_classes(dict(type="CocoDataset", data_root=str(tmp_path), ann_file="ann.json"))
