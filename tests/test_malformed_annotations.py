"""Fuzz: every malformed annotation loads as documented (``bad_box``) or fails naming the file, the object and
the field. Never a bare ``TypeError`` / ``KeyError`` / ``AttributeError`` from inside the loader."""

from __future__ import annotations

import json
import re
from functools import partial

import cv2
import numpy as np
import pytest

from ssdkit.data import BadImageError, CocoDataset, VOCDataset

PIPE = [dict(type="LoadImage"), dict(type="Resize", size=(64, 64)), dict(type="PackInputs")]
GOOD_OBJ = dict(name="dog", difficult="0", xmin="11", ymin="21", xmax="40", ymax="50")
BAD_VALUES = ["", "five", "nan", "inf", "-inf", "1e999", "  ", "3,5"]


def voc_xml(objects: list[dict], size: dict | None = dict(width="80", height="60")) -> str:  # noqa: B006 (read only)
    def obj(o: dict) -> str:
        inner = "".join(f"<{k}>{v}</{k}>" for k, v in o.items() if k in ("name", "difficult") and v is not None)
        box = "".join(f"<{k}>{o[k]}</{k}>" for k in ("xmin", "ymin", "xmax", "ymax") if o.get(k) is not None)
        return f"<object>{inner}" + ("" if o.get("no_bndbox") else f"<bndbox>{box}</bndbox>") + "</object>"

    size_xml = "" if size is None else "<size>" + "".join(f"<{k}>{v}</{k}>" for k, v in size.items()) + "</size>"
    return f"<annotation>{size_xml}{''.join(obj(o) for o in objects)}</annotation>"


def voc_cases(rng: np.random.Generator) -> list[tuple[str, str, str | None]]:
    """``(label, xml, field the error must name or None)``: missing/empty/non-numeric/non-finite tags, swapped or
    outside boxes, zero or missing sizes, empty or unknown classes, nested and truncated XML."""
    cases: list[tuple[str, str, str | None]] = []
    for field in ("xmin", "ymin", "xmax", "ymax"):
        cases.append((f"missing {field}", voc_xml([dict(GOOD_OBJ, **{field: None})]), field))
        for bad in BAD_VALUES:
            cases.append((f"{field}={bad!r}", voc_xml([GOOD_OBJ, dict(GOOD_OBJ, **{field: bad})]), field))
    for field in ("width", "height"):
        for bad in ["0", "-5", "", "abc", "nan"]:
            cases.append(
                (
                    f"size {field}={bad!r}",
                    voc_xml([GOOD_OBJ], dict(dict(width="80", height="60"), **{field: bad})),
                    field,
                )
            )
        cases.append(
            (
                f"size without {field}",
                voc_xml([GOOD_OBJ], {k: v for k, v in dict(width="80", height="60").items() if k != field}),
                field,
            )
        )
    cases += [
        ("no size", voc_xml([GOOD_OBJ], None), None),
        ("no bndbox", voc_xml([dict(GOOD_OBJ, no_bndbox=True)]), "bndbox"),
        ("empty class", voc_xml([dict(GOOD_OBJ, name="")]), "class ''"),
        ("no class", voc_xml([dict(GOOD_OBJ, name=None)]), "class ''"),
        ("unknown class", voc_xml([dict(GOOD_OBJ, name="unicorn")]), "class 'unicorn'"),
        ("swapped x", voc_xml([GOOD_OBJ, dict(GOOD_OBJ, xmin="40", xmax="11")]), None),
        ("outside", voc_xml([GOOD_OBJ, dict(GOOD_OBJ, xmin="-30", xmax="500")]), None),
        ("nested object", voc_xml([GOOD_OBJ]).replace("</object>", "<object><name>cat</name></object></object>"), None),
        ("no objects", voc_xml([]), None),
    ]
    full = voc_xml([GOOD_OBJ, GOOD_OBJ])
    for cut in sorted(set(rng.integers(1, len(full) - 1, 12).tolist())):
        cases.append((f"truncated at {cut}", full[:cut], "does not parse"))
    return cases


def check_outcome(make, label: str, file_re: str, field_hint: str | None = None, must_fail: bool = False) -> None:
    """Loading either works (then every item loads) or raises ValueError / FileNotFoundError naming the file (and,
    where a field is at fault, the field)."""
    try:
        ds = make()
    except (ValueError, FileNotFoundError) as err:
        assert re.search(file_re, str(err)), (label, str(err))
        if field_hint:
            assert field_hint in str(err), (label, str(err))
        return
    assert not must_fail, f"{label}: loaded, but the malformed field should have been named"
    for i in range(len(ds)):
        item = ds[i]
        assert item is None or item["inputs"].shape == (3, 64, 64), label


#: The bad boxes each ``bad_box`` mode must handle, by case label: the box ``'clip'`` makes of it (``None``: empty
#: after clipping, so dropped), or ``'nan'`` (no mode can repair it: every mode raises). The image is 80 x 60.
VOC_BAD_BOXES = {"swapped x": None, "outside": [0.0, 20.0, 80.0, 50.0]}  # VOC's 1-based xmin/ymin: -1
VOC_GOOD_BOX = [10.0, 20.0, 40.0, 50.0]
COCO_BAD_BOXES = {"negative width": None, "outside": [70.0, 50.0, 80.0, 60.0], "nan bbox": "nan"}
COCO_GOOD_BOX = [0.0, 0.0, 20.0, 20.0]


def check_bad_box(make, label: str, mode: str, file_re: str, clipped, good: list[float]) -> None:
    """A bad box next to a good one: ``'error'`` raises naming the file; ``'drop'`` keeps only the good box;
    ``'clip'`` keeps the good box and the clipped one (inside the image) unless clipping empties it. A NaN
    coordinate raises in every mode."""
    if mode == "error" or clipped == "nan":
        with pytest.raises(ValueError) as err:
            make()
        message = str(err.value)
        assert re.search(file_re, message), (label, mode, message)
        assert ("NaN or infinite" if clipped == "nan" else "outside the 80.0x60.0 image") in message, (label, message)
        return
    ds = make()
    boxes = [list(map(float, i["bbox"])) for i in ds.get_data_info(0)["instances"]]
    if mode == "drop" or clipped is None:
        assert boxes == [good], (label, mode, boxes)
    else:
        assert sorted(boxes) == sorted([good, clipped]), (label, mode, boxes)
        assert all(0 <= x1 < x2 <= 80 and 0 <= y1 < y2 <= 60 for x1, y1, x2, y2 in boxes), (label, boxes)
    assert ds.bad_box_count == 1, (label, mode)


@pytest.mark.slow
def test_voc_malformations(tmp_path):
    rng = np.random.default_rng(0)
    cases = voc_cases(rng)
    assert len(cases) > 60
    for k, (label, xml, field) in enumerate(cases):
        root = tmp_path / f"c{k}"
        for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
            (root / sub).mkdir(parents=True)
        cv2.imwrite(str(root / "JPEGImages/a.jpg"), np.full((60, 80, 3), 128, np.uint8))
        (root / "Annotations/a.xml").write_text(xml)
        (root / "ImageSets/Main/train.txt").write_text("a\n")
        for mode in ("clip", "drop", "error"):
            make = partial(VOCDataset, str(root), year=None, split="train", bad_box=mode, pipeline=PIPE)
            if label in VOC_BAD_BOXES:
                check_bad_box(make, label, mode, r"a\.xml'", VOC_BAD_BOXES[label], VOC_GOOD_BOX)
                continue
            check_outcome(
                make,
                f"{label} ({mode})",
                r"a\.xml'",
                field,
                must_fail=field is not None,
            )


def coco_doc() -> dict:
    return dict(
        images=[dict(id=1, file_name="a.jpg", width=80, height=60)],
        annotations=[
            dict(id=1, image_id=1, category_id=1, bbox=[10, 20, 30, 30], area=900, iscrowd=0),
            dict(id=2, image_id=1, category_id=1, bbox=[0, 0, 20, 20], area=400, iscrowd=0),
        ],
        categories=[dict(id=1, name="dog")],
    )


def coco_cases() -> list[tuple[str, dict, str | None]]:
    cases = []
    for label, change, field in [
        ("no bbox", lambda d: d["annotations"][0].pop("bbox"), "bbox"),
        ("bbox of 3", lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), "bbox"),
        ("bbox string", lambda d: d["annotations"][0].update(bbox="10 20 30 30"), "bbox"),
        ("bbox with a word", lambda d: d["annotations"][0].update(bbox=[10, "x", 30, 30]), "bbox"),
        ("negative width", lambda d: d["annotations"][0].update(bbox=[10, 20, -30, 30]), None),
        ("nan bbox", lambda d: d["annotations"][0].update(bbox=[float("nan"), 20, 30, 30]), None),
        ("outside", lambda d: d["annotations"][0].update(bbox=[70, 50, 30, 30]), None),
        ("unknown category", lambda d: d["annotations"][0].update(category_id=7), "category_id"),
        ("no category", lambda d: d["annotations"][0].pop("category_id"), "category_id"),
        ("no image width", lambda d: d["images"][0].pop("width"), "width"),
        ("zero height", lambda d: d["images"][0].update(height=0), "height"),
        ("text height", lambda d: d["images"][0].update(height="tall"), "height"),
        ("no annotations", lambda d: d.update(annotations=[]), None),
    ]:
        doc = coco_doc()
        change(doc)
        cases.append((label, doc, field))
    return cases


@pytest.mark.slow
def test_coco_malformations(tmp_path):
    for k, (label, doc, field) in enumerate(coco_cases()):
        root = tmp_path / f"c{k}"
        (root / "img").mkdir(parents=True)
        cv2.imwrite(str(root / "img/a.jpg"), np.full((60, 80, 3), 128, np.uint8))
        (root / "b.json").write_text(json.dumps(doc))
        for mode in ("clip", "drop", "error"):
            make = partial(
                CocoDataset,
                data_root=str(root),
                ann_file="b.json",
                data_prefix=dict(img="img/"),
                bad_box=mode,
                filter_empty_gt=False,
                pipeline=PIPE,
            )
            if label in COCO_BAD_BOXES:
                check_bad_box(make, label, mode, r"b\.json'", COCO_BAD_BOXES[label], COCO_GOOD_BOX)
                continue
            check_outcome(
                make,
                f"{label} ({mode})",
                r"b\.json'",
                field,
                must_fail=field is not None,
            )
    text = json.dumps(coco_doc())
    for cut in (1, len(text) // 3, len(text) - 2):  # truncated json
        root = tmp_path / f"t{cut}"
        root.mkdir()
        (root / "b.json").write_text(text[:cut])
        with pytest.raises(ValueError, match=r"b\.json' is not valid json"):
            CocoDataset(data_root=str(root), ann_file="b.json", pipeline=PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("content", [b"", b"not an image", b"\xff\xd8\xff\xe0" + b"\x00" * 20])
def test_corrupt_or_truncated_images_name_the_file_or_are_skipped(tmp_path, content):
    root = tmp_path / "voc"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    (root / "JPEGImages/a.jpg").write_bytes(content)
    cv2.imwrite(str(root / "JPEGImages/b.jpg"), np.full((60, 80, 3), 128, np.uint8))
    for i in "ab":
        (root / f"Annotations/{i}.xml").write_text(voc_xml([GOOD_OBJ]))
    (root / "ImageSets/Main/train.txt").write_text("a\nb\n")
    ds = VOCDataset(str(root), year=None, split="train", pipeline=PIPE)
    with pytest.raises(BadImageError, match=r"a\.jpg.*on_bad_image='skip'"):
        ds[0]
    skip = VOCDataset(str(root), year=None, split="train", pipeline=PIPE, on_bad_image="skip")
    assert skip[0]["data_samples"].metainfo["img_id"] == "b" and skip.bad_image_count >= 1
