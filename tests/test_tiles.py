"""Large images: the tile grid, objects cut to tiles, the tiled dataset, and merging sliced detections."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from ssdkit.data import TiledDataset
from ssdkit.structures.tiles import cut_to_tile, merge_detections, shift_boxes, tile_grid

PIPE = [dict(type="PackInputs")]


@pytest.mark.parametrize(
    "h, w, tile, overlap",
    [(1000, 1000, 300, 0.2), (1037, 611, 256, 0.25), (300, 300, 300, 0), (299, 1200, 300, 0.5), (50, 40, 512, 0.2)],
)
def test_grid_covers_every_pixel_with_the_stated_overlap(h, w, tile, overlap):
    grid = tile_grid(h, w, tile, overlap)
    cover = np.zeros((h, w), int)
    for x1, y1, x2, y2 in grid:
        assert x2 - x1 == min(tile, w) and y2 - y1 == min(tile, h)  # full tiles, or the whole small side
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        cover[y1:y2, x1:x2] += 1
    assert cover.min() >= 1  # the edges included, also when the size is not a multiple of the stride
    xs = sorted({int(t[0]) for t in grid})
    steps = np.diff(xs)
    assert (steps <= round(tile * (1 - overlap))).all() and (len(xs) == 1 or xs[-1] == w - tile)


def test_grid_refuses_what_cannot_tile():
    with pytest.raises(ValueError, match=r"overlap must be in \[0, 1\)"):
        tile_grid(100, 100, 50, 1.0)
    with pytest.raises(ValueError, match="tile size must be positive"):
        tile_grid(100, 100, 0)
    assert tile_grid(40, 50, 512).tolist() == [[0, 0, 50, 40]]  # smaller than a tile: one tile, the image


def test_cut_objects_follow_the_visible_fraction_rule():
    boxes = np.array([[10, 10, 30, 30], [90, 10, 130, 30], [95, 50, 105, 60], [200, 200, 220, 220]], np.float32)
    local, visible, kept = cut_to_tile(boxes, np.array([0, 0, 100, 100]), min_visible=0.5)
    np.testing.assert_allclose(visible, [1.0, 0.25, 0.5, 0.0])  # by hand: 10/40 of the second, half the third
    assert kept.tolist() == [True, False, True, False]
    np.testing.assert_allclose(local[0], [10, 10, 30, 30])
    _, _, kept = cut_to_tile(boxes, np.array([80, 0, 180, 100]), min_visible=0.5)
    assert kept.tolist() == [False, True, True, False]  # 40/40 and 10/10 of them inside this one
    np.testing.assert_allclose(cut_to_tile(boxes[1:2], np.array([80, 0, 180, 100]), 0.5)[0], [[10, 10, 50, 30]])


def write_large_voc(root, sizes, objects) -> None:
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for k, ((h, w), objs) in enumerate(zip(sizes, objects, strict=True)):
        cv2.imwrite(str(root / "JPEGImages" / f"big{k}.png"), np.full((h, w, 3), 30 * k, np.uint8))
        xml = "".join(
            f"<object><name>dog</name><difficult>0</difficult><bndbox><xmin>{b[0] + 1}</xmin>"
            f"<ymin>{b[1] + 1}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
            for b in objs
        )
        (root / "Annotations" / f"big{k}.xml").write_text(
            f"<annotation><size><width>{w}</width><height>{h}</height></size>{xml}</annotation>"
        )
    (root / "ImageSets/Main/train.txt").write_text("\n".join(f"big{k}" for k in range(len(sizes))) + "\n")


def tiled(root, **kw) -> TiledDataset:
    inner = dict(type="VOCDataset", data_root=str(root), year=None, split="train", classes=("dog",), img_suffix=".png")
    return TiledDataset(dataset=inner, pipeline=PIPE, **kw)


def test_tiled_dataset_loses_and_duplicates_nothing_and_decodes_each_image_once(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    sizes = [(1000, 1300), (700, 650)]
    objects = []
    for h, w in sizes:
        xy = rng.uniform(0, [w - 40, h - 40], (25, 2)).round()
        objects.append(np.concatenate([xy, xy + rng.integers(8, 40, (25, 2))], 1))
    write_large_voc(tmp_path, sizes, objects)
    reads = []
    real = cv2.imread
    monkeypatch.setattr(cv2, "imread", lambda p, *a: reads.append(p) or real(p, *a))
    ds = tiled(tmp_path, tile_size=300, overlap=0.2, min_visible=1.0, empty_ratio=1.0)  # every tile kept
    assert len(ds) == sum(len(tile_grid(h, w, 300, 0.2)) for h, w in sizes)
    seen: dict[tuple, int] = {}
    for k in range(len(ds)):
        s = ds.sample(k)
        assert len({tuple(b) for b in s["gt_bboxes"].tolist()}) == len(s["gt_bboxes"])  # no duplicate in a tile
        for b in s["gt_bboxes"]:
            key = (s["img_path"],) + tuple(np.round(b + np.tile(s["tile"][:2], 2), 3))
            seen[key] = seen.get(key, 0) + 1
            assert (b >= 0).all() and b[2] <= 300 and b[3] <= 300
    for k, objs in enumerate(objects):  # 40 px objects, 60 px overlap: each fully inside some tile
        path = str(tmp_path / "JPEGImages" / f"big{k}.png")
        for b in objs:
            assert seen.get((path,) + tuple(np.round(b.astype(np.float32), 3)), 0) >= 1, b
    assert len(reads) == 2  # tiles of one image in a row: one decode per image
    item = ds[0]
    assert item["inputs"].shape == (3, 300, 300) and item["data_samples"].metainfo["img_id"].endswith("@0,0")


def test_cut_objects_are_dropped_or_ignored_and_empty_tiles_thinned(tmp_path):
    write_large_voc(tmp_path, [(600, 600)], [[[290, 10, 330, 50]]])  # one object across x = 300
    grid = tile_grid(600, 600, 300, 0.0)  # four tiles, no overlap: the object is cut in half
    drop = tiled(tmp_path, tile_size=300, overlap=0.0, min_visible=0.6, empty_ratio=1.0)
    ignore = tiled(tmp_path, tile_size=300, overlap=0.0, min_visible=0.6, empty_ratio=1.0, cut="ignore")
    assert len(drop) == len(ignore) == len(grid)
    by_tile = {tuple(drop.sample(k)["tile"].tolist()): drop.sample(k) for k in range(len(drop))}
    right = by_tile[(300, 0, 600, 300)]  # 30 of its 40 px inside (75 %): kept, in tile coordinates
    np.testing.assert_allclose(right["gt_bboxes"], [[0, 10, 30, 50]])
    assert len(by_tile[(0, 0, 300, 300)]["gt_bboxes"]) == 0  # 10 of 40 px (25 %): dropped
    flagged = {
        tuple(ignore.sample(k)["tile"].tolist()): ignore.sample(k)["gt_ignore_flags"].tolist()
        for k in range(len(ignore))
    }
    assert flagged[(0, 0, 300, 300)] == [True] and flagged[(300, 0, 600, 300)] == [False]  # cut='ignore'
    assert len(tiled(tmp_path, tile_size=300, overlap=0.0, min_visible=0.2, empty_ratio=0.0)) == 2  # both parts
    assert len(tiled(tmp_path, tile_size=300, overlap=0.0, min_visible=0.6, empty_ratio=0.0)) == 1  # empty: gone
    with pytest.raises(ValueError, match="must not load images"):
        TiledDataset(
            dataset=dict(type="VOCDataset", data_root=str(tmp_path), year=None), pipeline=[dict(type="LoadImage")]
        )


def test_an_object_in_the_overlap_comes_back_once_in_image_coordinates():
    """Two tiles overlapping in x 240..300 both see the object at (250, 40)-(290, 80): merged once, with the
    tile-wise detection's coordinates shifted exactly."""
    tiles = [np.array([0, 0, 300, 300]), np.array([240, 0, 540, 300])]
    obj = torch.tensor([[250.0, 40.0, 290.0, 80.0]])
    per_tile = [
        (tiles[0], obj - torch.tensor([0.0, 0, 0, 0]) + 0.3, 0.9),  # each tile's slightly different box
        (tiles[1], obj - torch.tensor([240.0, 0, 240, 0]) - 0.2, 0.8),
    ]
    boxes = torch.cat([shift_boxes(b, t) for t, b, _ in per_tile] + [torch.tensor([[400.0, 200, 420, 220]])])
    scores = torch.tensor([s for *_, s in per_tile] + [0.7])
    labels = torch.tensor([3, 3, 3])
    merged, ms, ml = merge_detections(boxes, scores, labels, iou=0.5)
    assert len(merged) == 2 and ms.tolist() == pytest.approx([0.9, 0.7])
    assert (merged[0] - (obj[0] + 0.3)).abs().max() <= 0.5  # the best tile's box, in image coordinates
    other_class = merge_detections(boxes, scores, torch.tensor([3, 4, 3]), iou=0.5)[0]
    assert len(other_class) == 3  # class-wise: a different class is not suppressed


@pytest.mark.slow
def test_trained_on_tiles_sliced_inference_finds_what_the_whole_image_misses(tmp_path):
    """configs/examples/tiles_voc.py with only data_root edited, 300 iterations on tiles of four generated
    2000 x 2000 images (60 squares of 32-47 px each). Measured on two held-out images (120 squares), AMD EPYC
    Zen 4: sliced recall (IoU 0.5, score 0.3) 1.00, whole image resized to 300 px 0.00; tools/test.py --tile gives
    mAP 1.00 against the whole-image ground truth, whole-image evaluation 0.00."""
    import json
    import re
    import subprocess
    import sys

    from large_images import make_large_voc
    from torchvision.ops import box_iou

    from ssdkit.apis import detect, init_detector

    from model_utils import ROOT

    make_large_voc(tmp_path / "data")
    text = (ROOT / "configs/examples/tiles_voc.py").read_text()
    cfg = tmp_path / "tiles.py"
    cfg.write_text(
        text.replace("data_root = 'data/my_large_voc/'", f"data_root = '{tmp_path}/data/'").replace(
            "_base_ = './custom_voc.py'", f"_base_ = '{ROOT}/configs/examples/custom_voc.py'"
        )
    )
    train = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/train.py"),
            str(cfg),
            "--work-dir",
            str(tmp_path / "w"),
            "--cfg-options",
            "train_cfg.max_iters=300",
            "train_cfg.val_interval=300",
            "default_hooks.checkpoint.interval=300",
            "param_scheduler.1.end=300",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    ckpt = tmp_path / "w" / "iter_300.pth"
    model = init_detector(str(cfg), str(ckpt))
    recall = {}
    for mode, tile in (("sliced", 300), ("whole", None)):
        hit = total = 0
        for k in range(2):
            img = cv2.imread(str(tmp_path / f"data/JPEGImages/val{k}.jpg"))
            xml = (tmp_path / f"data/Annotations/val{k}.xml").read_text()
            gt = torch.tensor(
                [
                    [float(v) for v in m]
                    for m in re.findall(
                        r"<xmin>(\d+)</xmin><ymin>(\d+)</ymin><xmax>(\d+)</xmax><ymax>(\d+)</ymax>", xml
                    )
                ]
            )
            gt[:, :2] -= 1
            det = detect(model, [img], score_thr=0.3, tile=tile)[0]
            if len(det["boxes"]):
                hit += int((box_iou(gt, torch.as_tensor(det["boxes"])).max(1).values >= 0.5).sum())
            total += len(gt)
        recall[mode] = hit / total
    img = cv2.imread(str(tmp_path / "data/JPEGImages/val0.jpg"))
    with_whole = detect(model, [img], score_thr=0.3, tile=300, tile_whole=True)[0]  # a whole-image pass on top
    assert abs(len(with_whole["boxes"]) - len(detect(model, [img], score_thr=0.3, tile=300)[0]["boxes"])) <= 2
    print(f"recall: {recall}")
    assert recall["sliced"] >= 0.8 and recall["whole"] <= 0.1, recall
    # exact coordinates: an object seen by two tiles comes back once, where its tile-wise detection says
    from ssdkit.apis.predict import predict_arrays
    from ssdkit.structures.tiles import tile_grid

    img = cv2.imread(str(tmp_path / "data/JPEGImages/val0.jpg"))
    xml = (tmp_path / "data/Annotations/val0.xml").read_text()
    gt = torch.tensor(
        [
            [float(v) for v in m]
            for m in re.findall(r"<xmin>(\d+)</xmin><ymin>(\d+)</ymin><xmax>(\d+)</xmax><ymax>(\d+)</ymax>", xml)
        ]
    )
    gt[:, :2] -= 1
    grid = torch.as_tensor(tile_grid(2000, 2000, 300, 0.2))
    inside = ((gt[:, None, :2] >= grid[None, :, :2]) & (gt[:, None, 2:] <= grid[None, :, 2:])).all(-1)  # [G, T]
    sliced = detect(model, [img], score_thr=0.3, tile=300)[0]
    checked = 0
    for g in (inside.sum(1) >= 2).nonzero().flatten().tolist():  # fully inside two or more tiles
        mine = []  # what each tile that sees it whole detects, shifted into the image
        for t in grid[inside[g]].tolist():
            own = predict_arrays(model, [np.ascontiguousarray(img[t[1] : t[3], t[0] : t[2]])])[0]
            mine.append(own.bboxes[own.scores >= 0.3] + torch.tensor([t[0], t[1], t[0], t[1]], dtype=torch.float32))
        mine = torch.cat(mine)
        hits = box_iou(gt[g : g + 1], torch.as_tensor(sliced["boxes"]))[0] >= 0.5
        if len(mine) and (box_iou(gt[g : g + 1], mine)[0] >= 0.5).any():
            assert int(hits.sum()) == 1, f"object {g} came back {int(hits.sum())} times"
            near = (torch.as_tensor(sliced["boxes"])[hits][0] - mine).abs().max(dim=1).values.min()
            assert float(near) <= 0.5, float(near)
            checked += 1
    assert checked >= 5  # objects in overlaps, each back once, within 0.5 px of one of its tiles' detections
    maps = {}
    for mode, extra in (("sliced", ["--tile", "300"]), ("whole", [])):
        out = subprocess.run(
            [
                sys.executable,
                str(ROOT / "tools/test.py"),
                str(cfg),
                str(ckpt),
                "--work-dir",
                str(tmp_path / f"t_{mode}"),
                "--out",
                str(tmp_path / f"{mode}.json"),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        maps[mode] = float(re.search(r"pascal_voc/mAP ([\d.]+)", out.stdout).group(1))
        records = json.loads((tmp_path / f"{mode}.json").read_text())
        assert len(records) == 2 and all(r["image"].endswith(".jpg") for r in records)
    print(f"mAP: {maps}")
    assert maps["sliced"] >= 0.8 and maps["whole"] <= 0.1, maps


def test_the_partial_box_of_an_object_cut_by_a_tile_edge_is_merged_away():
    """A tile edge cut the object: its partial box (22 of 40 px wide) lies inside the full one the next tile saw.
    By hand: IoU 880 / 1600 = 0.55, so NMS at 0.6 keeps both; IoS 880 / 880 = 1, so the IoS merge keeps the full box."""
    full = torch.tensor([[250.0, 40.0, 290.0, 80.0]])
    partial = torch.tensor([[250.0, 40.0, 272.0, 80.0]])  # 22 of 40 px: IoU 0.55, IoS 1.0
    boxes, scores, labels = torch.cat([full, partial]), torch.tensor([0.9, 0.8]), torch.tensor([0, 0])
    assert len(merge_detections(boxes, scores, labels, 0.6, metric="iou")[0]) == 2
    kept = merge_detections(boxes, scores, labels, 0.6, metric="ios")
    assert len(kept[0]) == 1 and torch.equal(kept[0], full)
    other = merge_detections(boxes, scores, torch.tensor([0, 1]), 0.6, metric="ios")
    assert len(other[0]) == 2  # class-wise
    many = torch.rand(200, 2) * 1000
    spread = torch.cat([many, many + 20], 1)
    ours = merge_detections(spread, torch.rand(200), torch.zeros(200, dtype=torch.long), 0.99, metric="ios")[0]
    assert len(ours) >= 150  # distinct boxes mostly survive a strict threshold
