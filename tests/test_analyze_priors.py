"""tools/analyze_priors.py: coverage worked by hand, the grid path equal to the dense one, a fit that helps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssdkit.analysis.objects import Objects
from ssdkit.analysis.priors import best_iou, coverage_report, matched_priors, prior_set
from ssdkit.core.matchers import ArgMaxMatcher, SSDMatcher
from ssdkit.core.priors import SSDPriorGenerator
from ssdkit.structures import pairwise_iou

from model_utils import ROOT, load_tool


def _objects(boxes, image=None, size=100) -> Objects:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    image = np.arange(len(boxes)) if image is None else np.asarray(image)
    return Objects(
        boxes,
        (boxes[:, 2:] - boxes[:, :2]).astype(np.float64),
        np.zeros(len(boxes), np.int64),
        image,
        int(image.max()) + 1,
        (size, size),
        ("thing",),
    )


def _two_levels():
    """Level 0: a 2x2 map of 50-pixel squares (centres 25, 75); level 1: one 90-pixel square; input 100x100."""
    gen = SSDPriorGenerator(aspect_ratios=[[], []], scales=[0.5, 0.9, 0.9], extra_square=[False, False])
    return prior_set(gen, [(2, 2), (1, 1)], (100, 100))


def test_coverage_positives_and_idle_levels_by_hand():
    ps = _two_levels()
    assert ps.priors.shape == (5, 4) and ps.level_ends.tolist() == [4, 5]
    # one object per image; IoUs with the best prior worked by hand:
    #   (0,0,50,50): 1 (prior 0);  (0,0,40,40): 1600/2500 = 0.64;  (10,10,60,60): 1600/3400 = 0.47;
    #   (0,0,20,20): 400/2500 = 0.16;  (0,0,100,50): 2500/5000 = 0.5 with priors 0 and 1 (ties)
    objects = _objects([[0, 0, 50, 50], [0, 0, 40, 40], [10, 10, 60, 60], [0, 0, 20, 20], [0, 0, 100, 50]])
    r = coverage_report(objects, ps, SSDMatcher(0.5))
    np.testing.assert_allclose(r.best_iou, [1, 0.64, 1600 / 3400, 0.16, 0.5], rtol=1e-6)
    assert r.covered.tolist() == [True, True, False, False, True]
    assert r.coverage == pytest.approx(3 / 5)
    # positives: the prior above 0.5, or the forced best one; the wide object takes both halves of the top row
    # (IoU 0.5 each); the level-1 square (5..95) reaches 90 * 45 / 9050 = 0.45 with it: no positive on level 1
    assert r.positives.tolist() == [1, 1, 1, 1, 2]
    assert r.level_positives.tolist() == [6, 0] and r.idle_levels == [1]
    small = {b.name: b for b in r.tables["COCO size (original pixels)"]}["small"]  # area < 32^2: only 20x20
    assert (small.count, small.coverage, small.positives) == (1, 0.0, 1.0)
    aspect = {b.name: b for b in r.tables["aspect w / h"]}
    assert aspect["2 .. 3"].count == 1 and aspect["2 .. 3"].coverage == 1.0  # the 100x50 object


def test_grid_path_equals_dense_iou_and_the_matchers_own_result():
    gen = SSDPriorGenerator(s_min=0.1, s_max=0.8)
    ps = prior_set(gen, [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)], (300, 300))
    rng = np.random.default_rng(0)
    n_img, per = 40, 5
    xy = rng.uniform(0, 250, (n_img * per, 2))
    wh = np.exp(rng.uniform(np.log(4), np.log(200), (n_img * per, 2)))
    boxes = np.concatenate([xy, np.minimum(xy + wh, 300)], 1)
    objects = _objects(boxes, np.repeat(np.arange(n_img), per), size=300)
    dense = pairwise_iou(torch.from_numpy(objects.boxes), ps.priors).amax(1)
    for thr in (0.5, 0.3):
        torch.testing.assert_close(best_iou(torch.from_numpy(objects.boxes), ps, thr), dense, rtol=0, atol=1e-6)
    matcher = ArgMaxMatcher(0.5, 0.4)
    obj, prior = matched_priors(objects, ps, matcher)
    gt, valid = (torch.from_numpy(a) for a in objects.padded())
    ref = matcher(gt, ps.priors, valid)  # dense: no grid
    img, pr = (ref >= 0).nonzero(as_tuple=True)
    slots = objects.slots()
    index = {(int(i), int(s)): k for k, (i, s) in enumerate(zip(objects.image, slots, strict=True))}
    expected = sorted((index[(int(i), int(ref[i, p]))], int(p)) for i, p in zip(img, pr, strict=True))
    assert sorted(zip(obj.tolist(), prior.tolist(), strict=True)) == expected


def _thin_objects_set(root, n_img: int = 200, seed: int = 0) -> None:
    """A COCO json (no images: the tool reads annotations only) of thin objects, tall and wide, 5-10 x 40-70 px
    on 300x300 images: far from the demo's priors (squares from 30 px, ratios up to 3)."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(n_img):
        images.append(dict(id=i + 1, file_name=f"{i}.jpg", width=300, height=300))
        for _ in range(3):
            w, h = rng.uniform(5, 10), rng.uniform(40, 70)
            if rng.uniform() < 0.5:
                w, h = h, w
            x, y = rng.uniform(0, 300 - w), rng.uniform(0, 300 - h)
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=1, bbox=[x, y, w, h], area=w * h, iscrowd=0))
    (root / "annotations").mkdir(parents=True)
    (root / "annotations/instances_train.json").write_text(
        json.dumps(dict(images=images, annotations=anns, categories=[dict(id=1, name="needle")]))
    )


AT_300 = ", pipeline=[dict(type='LoadImage'), dict(type='Resize', size=(300, 300)), dict(type='PackInputs')]"


def _needles_config(tmp_path, train_pipeline: str = AT_300) -> str:
    """The demo config (its model, priors and matcher) reading the needles set in every loader, at 300 x 300 unless
    ``train_pipeline`` says otherwise."""
    data = tmp_path / "data"
    cfg = tmp_path / "needles.py"
    cfg.write_text(
        f"_base_ = '{ROOT}/configs/demo/ssdlite224_mobilenet_demo.py'\n"
        "model = dict(num_classes=None)\n"
        f"train_dataloader = dict(dataset=dict(data_root='{data}/'{train_pipeline}))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{data}/', "
        "ann_file='annotations/instances_train.json'))\n"
        "test_dataloader = val_dataloader\n"
    )
    return str(cfg)


def test_tool_suggests_priors_that_cover_thin_objects(tmp_path):
    _thin_objects_set(tmp_path / "data")
    cfg = _needles_config(tmp_path)
    tool = load_tool("analyze_priors")
    out = tool.main([cfg, "--out-dir", str(tmp_path / "pics"), "--suggest", "--work-dir", str(tmp_path / "w")])
    fit = out.fit
    # the demo's priors barely reach IoU 0.5 with a needle; the fitted ones (same levels and counts) do for many
    assert out.report.coverage == pytest.approx(fit.before)
    assert fit.before < 0.05, fit.before
    assert fit.after >= fit.before + 0.25, (fit.before, fit.after)
    assert max(max(r) for r in fit.aspect_ratios) > 5  # thinner boxes than the demo's ratio 3
    assert [p.name for p in out.pictures] == ["prior_shapes.png", "coverage_by_size.png", "positives_per_level.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in out.pictures)
    # the printed snippet, pasted into the config's model dict, gives the coverage the fit reported; so do the options
    pasted = tmp_path / "needles_fitted.py"
    pasted.write_text(
        open(cfg).read().replace("model = dict(num_classes=None)", f"model = dict(num_classes=None, {fit.snippet({})})")
    )
    again = tool.main([str(pasted), "--work-dir", str(tmp_path / "w")])
    one = 1.5 / len(out.objects)  # the printed digits may move one object across the threshold, no more
    assert again.report.coverage == pytest.approx(fit.after, abs=one)
    assert again.priors.priors.shape == out.priors.priors.shape  # same prior count: the head keeps its shape
    tried = tool.main([cfg, "--work-dir", str(tmp_path / "w"), "--cfg-options", *fit.cfg_options({})])
    assert tried.report.coverage == pytest.approx(fit.after, abs=one)


def test_missing_resize_is_named(tmp_path):
    _thin_objects_set(tmp_path / "data", n_img=2)
    cfg = _needles_config(tmp_path, ", pipeline=[dict(type='LoadImage'), dict(type='PackInputs')]")
    tool = load_tool("analyze_priors")
    with pytest.raises(SystemExit, match=r"error: train_dataloader.dataset.pipeline has no Resize.*--input-size"):
        tool.main([cfg, "--work-dir", str(tmp_path / "w")])
    out = tool.main([cfg, "--input-size", "300", "300", "--work-dir", str(tmp_path / "w")])
    assert out.objects.input_size == (300, 300) and len(out.objects) == 6


def test_tiled_config_is_analysed_per_tile(tmp_path):
    from large_images import make_large_voc

    make_large_voc(tmp_path / "big", num_train=1, num_val=1, size=600, objects=12)
    root = f"{tmp_path / 'big'}/"
    opts = [
        "--work-dir",
        str(tmp_path / "w"),
        "--cfg-options",
        f"test_dataloader.dataset.data_root={root}",
        f"val_dataloader.dataset.dataset.data_root={root}",
        f"train_dataloader.dataset.dataset.data_root={root}",
    ]
    tool = load_tool("analyze_priors")
    whole = tool.main([str(ROOT / "configs/examples/tiles_voc.py"), "--split", "test", *opts])
    tiles = tool.main([str(ROOT / "configs/examples/tiles_voc.py"), "--split", "val", *opts])
    # the same 12 objects: whole 600 px images resized to 300 halve them; 300 px tiles keep their size (some are in
    # two overlapping tiles)
    assert len(whole.objects) == 12 and whole.objects.num_images == 1
    assert len(tiles.objects) >= 12 and tiles.objects.num_images > 1
    ratio = np.median(np.sqrt(np.prod(tiles.objects.boxes[:, 2:] - tiles.objects.boxes[:, :2], 1))) / np.median(
        np.sqrt(np.prod(whole.objects.boxes[:, 2:] - whole.objects.boxes[:, :2], 1))
    )
    assert ratio == pytest.approx(2, rel=0.05)
