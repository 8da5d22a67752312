"""The prior check before training: its figures, the floor it names, fitted priors kept with the checkpoint."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from ssdkit.analysis.objects import Objects
from ssdkit.analysis.preflight import check_priors, min_coverable_side
from ssdkit.core import SSDPriorGenerator
from ssdkit.data.small_objects import make_small_objects_dataset
from ssdkit.engine import ConfigError, adopt_trained_priors
from ssdkit.engine.checkpoint import trained_prior_generator
from ssdkit.engine.runner import wire_prior_check
from ssdkit.registry import DETECTORS

from model_utils import ROOT, load_config, load_tool


def _best_iou_at_the_worst_position(side: float, stride: float, sizes: torch.Tensor) -> float:
    """torchvision's IoU of a square of ``side`` centred half a stride off a grid point in x and y, with square
    priors of every size in ``sizes`` centred on that grid point: the best."""
    c = stride / 2
    obj = torch.tensor([[c - side / 2, c - side / 2, c + side / 2, c + side / 2]], dtype=torch.float64)
    priors = torch.stack([-sizes / 2, -sizes / 2, sizes / 2, sizes / 2], 1)
    return float(box_iou(obj, priors).max())


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.7])
@pytest.mark.parametrize("stride", [8.0, 16.0])
def test_floor_side_is_the_smallest_square_some_prior_reaches_at_the_worst_position(threshold, stride):
    a = min_coverable_side(stride, threshold)
    sizes = torch.linspace(0.05 * stride, 4 * a + 4 * stride, 200001, dtype=torch.float64)
    step = float(sizes[1] - sizes[0])
    assert _best_iou_at_the_worst_position(a, stride, sizes) == pytest.approx(threshold, abs=2 * step / a)
    assert _best_iou_at_the_worst_position(0.98 * a, stride, sizes) < threshold  # no prior size reaches it
    assert _best_iou_at_the_worst_position(1.02 * a, stride, sizes) > threshold


class _Model(torch.nn.Module):
    """The parts of an SSD the check reads: one 10x10 and one 5x5 map on a 100x100 input."""

    def __init__(self, generator, matcher) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.prior_generator, self.matcher = generator, matcher

    def extract_feats(self, x):
        return [torch.zeros(1, 1, 10, 10), torch.zeros(1, 1, 5, 5)]


def test_check_counts_coverage_small_objects_idle_levels_and_the_floor():
    from ssdkit.core import SSDMatcher

    gen = SSDPriorGenerator(aspect_ratios=[[], []], scales=[0.2, 0.6, 0.9], extra_square=[False, False])
    # level 0: 20 px squares centred at 5, 15, ..., 95; level 1: 60 px squares at 10, 30, ...
    boxes = np.array(
        [
            [5, 5, 25, 25],  # a level-0 prior exactly: covered; 20 px is not small (0.2 of the side)
            [10, 10, 13, 12],  # 3 x 2 px: tiny, under the floor, not covered
            [40, 40, 46, 46],  # 6 px, under 0.1 of the side, under the floor (2.72 x 10 px)
        ],
        np.float32,
    )
    objects = Objects(
        boxes, boxes[:, 2:] - boxes[:, :2], np.zeros(3, np.int64), np.zeros(3, np.int64), 1, (100, 100), ("x",)
    )
    check = check_priors(_Model(gen, SSDMatcher(0.5)), objects)
    assert check.stride == pytest.approx(10.0)
    assert check.coverage == pytest.approx(1 / 3)
    assert check.small_coverage() == (2, 0.0)
    assert check.report.idle_levels == [1]
    text = check.text
    assert "33.3% of all objects; 0.0% of the 2 objects under 0.1 of the input side" in text
    assert "idle levels [1]" in text
    assert "objects under 3 px (width or height) at the input: 1 (33.3%)" in text
    assert re.search(r"3 objects \(100\.0%\) are under 24 px, 2\.41 strides of the finest level \(10 px\)", text)
    assert "fitting priors cannot fix that" in text and "tiles with upsampling" in text


def test_auto_priors_key_is_checked_and_the_hook_added_once():
    cfg = load_config("demo/ssdlite224_mobilenet_demo")
    cfg.auto_priors = dict(min_coverage=0.8)
    wire_prior_check(cfg)
    wire_prior_check(cfg)
    hooks = [h for h in cfg.custom_hooks if h["type"] == "PriorCheckHook"]
    assert hooks == [dict(type="PriorCheckHook", min_coverage=0.8)]
    cfg.auto_priors = dict(coverage=0.8)
    with pytest.raises(ConfigError, match=r"auto_priors=\{'coverage': 0.8\}: give auto_priors=dict\(min_coverage"):
        wire_prior_check(cfg)
    off = load_config("demo/ssdlite224_mobilenet_demo")
    off.prior_check = False
    wire_prior_check(off)
    assert not any(h["type"] == "PriorCheckHook" for h in off.get("custom_hooks", []))


def _small_objects_config(tmp_path: Path, data: Path, auto: float | None) -> Path:
    cfg = tmp_path / f"small_{auto}.py"
    cfg.write_text(
        f"_base_ = '{ROOT}/configs/examples/custom_voc.py'\n"
        f"data_root = '{data}/'\n"
        "classes = ('digit_0', 'digit_1')\n"
        "dataset = dict(type='VOCDataset', data_root=data_root, year=None, metainfo=dict(classes=classes))\n"
        "pipe = [dict(type='LoadImage'), dict(type='Resize', size=(160, 160)), dict(type='PackInputs')]\n"
        "train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,\n"
        "    dataset=dict(dataset, split='train', pipeline=pipe))\n"
        "val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,\n"
        "    dataset=dict(dataset, split='val', test_mode=True, pipeline=pipe))\n"
        "test_dataloader = val_dataloader\n"
        "model = dict(backbone=dict(width_mult=0.25))\n"
        "train_cfg = dict(max_iters=2, val_interval=100)\n"
        "default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))\n"
        "optim_wrapper = dict(type='OptimWrapper')\n"
        + (f"auto_priors = dict(min_coverage={auto})\n" if auto is not None else "")
    )
    return cfg


@pytest.mark.slow
def test_training_checks_fits_and_keeps_priors_that_test_infer_and_export_use(tmp_path):
    data = tmp_path / "data"
    make_small_objects_dataset(str(data), num_train=8, num_val=2, image_size=(200, 200), max_objects=12, num_classes=2)
    cfg = _small_objects_config(tmp_path, data, auto=0.9)
    work = tmp_path / "work"
    load_tool("train").main([str(cfg), "--work-dir", str(work)])
    log = next(work.glob("*/*.log")).read_text()
    check, first_iter = log.index("prior check:"), log.index("Iter(train) [1/2]")
    assert check < first_iter  # logged before the first iteration
    before, after = (float(x) for x in re.search(r"auto priors: coverage ([\d.]+)% -> ([\d.]+)%", log).groups())
    small = re.search(r"under 0.1 of the input side: ([\d.]+)% -> ([\d.]+)%\)", log).groups()
    assert after > before and float(small[1]) > float(small[0]), (before, after, small)
    ckpt = (work / "last_checkpoint").read_text().strip()
    trained = trained_prior_generator(ckpt)
    stated = load_config_plain(cfg)
    assert trained != stated and trained["scales"] is not None and trained.get("s_min") == stated.get("s_min")
    # the config as written states the paper's priors; evaluation, inference and export take the checkpoint's
    from ssdkit.apis import init_detector

    with pytest.warns(UserWarning, match="trained with model.prior_generator="):
        model = init_detector(str(cfg), ckpt)
    assert model.prior_generator.scales == pytest.approx(trained["scales"])
    fitted = model.priors_for(model.extract_feats(torch.zeros(1, 3, 160, 160)), torch.zeros(1, 3, 160, 160))
    paper = DETECTORS.build(dict(model.cfg.model, prior_generator=stated)).eval()
    assert not torch.allclose(
        fitted, paper.priors_for(paper.extract_feats(torch.zeros(1, 3, 160, 160)), torch.zeros(1, 3, 160, 160))
    )
    with pytest.warns(UserWarning, match="trained with model.prior_generator="):
        load_tool("test").main([str(cfg), ckpt, "--work-dir", str(work)])
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "fitted.onnx"
    with pytest.warns(UserWarning, match="trained with model.prior_generator="):
        load_tool("export").main([str(cfg), ckpt, "--out", str(out), "--mode", "raw", "--work-dir", str(work)])
    from ssdkit.deploy.graph import DeployGraph

    x = torch.rand(1, 3, 160, 160) * 255
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    exported = torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])
    paper.load_state_dict(model.state_dict())
    with torch.no_grad():
        ours, theirs = (DeployGraph(m, (160, 160), "raw").network(x)[0] for m in (model, paper))
    torch.testing.assert_close(exported, ours, atol=1e-3, rtol=1e-4)
    assert (exported - theirs).abs().max() > 1.0  # the config's own priors would have given other boxes


def load_config_plain(path: Path) -> dict:
    from ssdkit.engine.checkpoint import _plain
    from ssdkit.engine.config import load_config as load_file

    return _plain(load_file(str(path)).model.prior_generator)


def test_adopting_is_a_no_op_for_a_checkpoint_trained_with_the_configs_priors(tmp_path):
    cfg = load_config("demo/ssdlite224_mobilenet_demo")
    ckpt = tmp_path / "plain.pth"
    torch.save(dict(state_dict={}, meta=dict(cfg=cfg.pretty_text)), ckpt)
    assert adopt_trained_priors(cfg, str(ckpt)) is False
    other = load_config("demo/ssdlite224_mobilenet_demo")
    other.model.prior_generator.aspect_ratios = [[2]] * 6
    torch.save(dict(state_dict={}, meta=dict(cfg=other.pretty_text)), ckpt)
    with pytest.warns(UserWarning, match="using the checkpoint's"):
        assert adopt_trained_priors(cfg, str(ckpt)) is True
    assert cfg.model.prior_generator.aspect_ratios == [[2]] * 6


def test_fitted_priors_clear_the_keys_that_would_override_or_conflict_with_scales():
    from ssdkit.analysis.prior_fit import PriorFit

    cfg = load_config("ssd300_vgg16_voc0712")  # scales from the released rule: min_ratio, max_ratio, first_scale
    stated = cfg.model.prior_generator.to_dict()
    gen = DETECTORS.build(cfg.model).prior_generator
    fit = PriorFit(
        [0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05], [[2.0], [2, 3], [2, 3], [2, 3], [2], [2]], 0.5, 0.6, 1, gen
    )
    merged = dict(stated, **fit.overrides(stated))
    rebuilt = SSDPriorGenerator(**{k: v for k, v in merged.items() if k != "type"})  # no "both given" error
    assert rebuilt.scales == pytest.approx(fit.scales)
    assert "min_ratio=None, max_ratio=None, first_scale=None" in fit.snippet(stated)
