"""Plugins: entry points, custom_imports in a config, and the SigmoidFocalLoss example plugin."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torchvision.ops import sigmoid_focal_loss

from ssdkit.core import SSDPriorGenerator, assign_targets, pad_ground_truth
from ssdkit.registry import BOX_CODERS, LOSSES, MATCHERS, load_plugins, origin_of
from ssdkit.registry.origins import ORIGINS as _ORIGINS

from conftest import SSD300_FEATURES, random_boxes

REPO_ROOT = Path(__file__).resolve().parents[1]
NUM_CLASSES = 20
plugins_module = importlib.import_module("ssdkit.registry.plugins")


def make_distribution(root: Path, package: str, entry_point: str, init_source: str) -> None:
    """A minimal installed distribution: ``<package>/__init__.py`` plus its ``.dist-info``."""
    (root / package).mkdir()
    (root / package / "__init__.py").write_text(textwrap.dedent(init_source))
    info = root / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[ssdkit.plugins]\n{entry_point} = {package}\n")


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """A tmp dir on sys.path; undoes modules, origins and MATCHERS entries the plugin adds."""
    MATCHERS.import_from_location()
    names, origins = set(MATCHERS.module_dict), dict(_ORIGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins_module, "_loaded", False)
    yield tmp_path
    for name in set(MATCHERS.module_dict) - names:
        MATCHERS.module_dict.pop(name)
    _ORIGINS.clear()
    _ORIGINS.update(origins)
    for module in [m for m in sys.modules if m.startswith("ssdkit_demo_plugin") or m.startswith("ssdkit_broken")]:
        del sys.modules[module]


def test_entry_point_plugin_is_loaded_and_named(plugin_path):
    make_distribution(
        plugin_path,
        "ssdkit_demo_plugin",
        "demo",
        """
        from ssdkit.registry import MATCHERS

        @MATCHERS.register_module()
        class DemoPluginMatcher:
            def __init__(self, threshold: float = 0.5) -> None:
                self.threshold = threshold
        """,
    )
    assert "DemoPluginMatcher" not in MATCHERS.module_dict
    assert load_plugins(force=True) == ["demo"]
    cls = MATCHERS.get("DemoPluginMatcher")
    assert cls is not None and cls.__module__ == "ssdkit_demo_plugin"
    assert origin_of(cls) == "plugin demo [ssdkit_demo_plugin] (ssdkit_demo_plugin)"
    assert MATCHERS.build(dict(type="DemoPluginMatcher", threshold=0.3)).threshold == 0.3


def test_entry_points_load_on_first_registry_use(plugin_path):
    make_distribution(
        plugin_path,
        "ssdkit_demo_plugin",
        "demo",
        """
        from ssdkit.registry import MATCHERS

        @MATCHERS.register_module()
        class LazyDemoMatcher:
            pass
        """,
    )
    assert "ssdkit_demo_plugin" not in sys.modules
    assert MATCHERS.build(dict(type="LazyDemoMatcher")).__class__.__module__ == "ssdkit_demo_plugin"


def test_broken_entry_point_names_itself(plugin_path):
    make_distribution(plugin_path, "ssdkit_broken_plugin", "broken", "raise RuntimeError('boom at import')\n")
    with pytest.raises(ImportError) as excinfo:
        load_plugins(force=True)
    msg = str(excinfo.value)
    assert "'broken'" in msg and "ssdkit_broken_plugin" in msg and "boom at import" in msg
    assert plugins_module._loaded is False  # tried again next time, not silently skipped


# --- custom_imports and the focal loss plugin ---------------------------------------------------------------


@pytest.fixture
def focal_cfg(tmp_path, monkeypatch) -> Config:
    """A config that brings SigmoidFocalLoss in through custom_imports, loaded by mmengine."""
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    monkeypatch.delitem(sys.modules, "plugins.focal_loss", raising=False)
    monkeypatch.delitem(LOSSES.module_dict, "SigmoidFocalLoss", raising=False)
    path = tmp_path / "focal_config.py"
    path.write_text(
        textwrap.dedent("""
        custom_imports = dict(imports=['plugins.focal_loss'], allow_failed_imports=False)
        loss = dict(type='SigmoidFocalLoss')
        matcher = dict(type='ArgMaxMatcher', matched_threshold=0.5, unmatched_threshold=0.4)
        coder = dict(type='SSDBoxCoder')
        """)
    )
    return Config.fromfile(str(path))


def make_targets(cfg: Config, counts: list[int], seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    priors = SSDPriorGenerator()(SSD300_FEATURES, (300, 300))
    boxes = [random_boxes(n, generator=gen) for n in counts]
    classes = [torch.randint(0, NUM_CLASSES, (n,), generator=gen) for n in counts]
    gt_boxes, gt_labels, gt_valid = pad_ground_truth(boxes, classes, NUM_CLASSES)
    labels, deltas = assign_targets(
        MATCHERS.build(cfg.matcher), BOX_CODERS.build(cfg.coder), priors, gt_boxes, gt_labels, gt_valid
    )
    b, p = labels.shape
    logits = torch.randn(b, p, NUM_CLASSES + 1, generator=gen, requires_grad=True)
    box_deltas = torch.randn(b, p, 4, generator=gen, requires_grad=True)
    return logits, box_deltas, labels, deltas


def reference_loss(logits, box_deltas, labels, target_deltas):
    """Focal loss written out: one-hot by scatter, ignored rows masked after the per-entry loss."""
    onehot = torch.zeros_like(logits[..., 1:])
    pos = labels > 0
    onehot[pos] = onehot[pos].scatter(1, (labels[pos] - 1).unsqueeze(1), 1.0)
    per_entry = sigmoid_focal_loss(logits[..., 1:], onehot, alpha=0.25, gamma=2.0, reduction="none")
    n = max(1, int(pos.sum()))
    loss_cls = (per_entry.sum(-1) * (labels >= 0)).sum() / n
    loss_box = F.smooth_l1_loss(box_deltas[pos], target_deltas[pos], reduction="sum") / n
    return loss_cls, loss_box


def test_custom_imports_config_builds_and_runs_the_plugin(focal_cfg):
    assert "plugins.focal_loss" in sys.modules
    loss = LOSSES.build(focal_cfg.loss)
    assert type(loss).__name__ == "SigmoidFocalLoss"
    assert origin_of(type(loss)) == "plugin plugins.focal_loss"
    out = loss(*make_targets(focal_cfg, [3, 1]))
    assert set(out) == {"loss_cls", "loss_box"}


def test_focal_loss_equals_torchvision_and_gradients_flow(focal_cfg):
    loss = LOSSES.build(focal_cfg.loss)
    logits, box_deltas, labels, target_deltas = make_targets(focal_cfg, [3, 1, 12, 6], seed=1)
    assert (labels > 0).any() and (labels == 0).any()
    out = loss(logits, box_deltas, labels, target_deltas)
    assert all(torch.isfinite(v) and v.ndim == 0 for v in out.values())
    ref_cls, ref_box = reference_loss(logits, box_deltas, labels, target_deltas)
    torch.testing.assert_close(out["loss_cls"], ref_cls)
    torch.testing.assert_close(out["loss_box"], ref_box)
    (out["loss_cls"] + out["loss_box"]).backward()
    assert torch.isfinite(logits.grad).all() and torch.isfinite(box_deltas.grad).all()
    assert logits.grad[..., 1:].abs().sum() > 0 and box_deltas.grad.abs().sum() > 0
    assert logits.grad[..., 0].abs().sum() == 0  # background column unused
    assert box_deltas.grad[labels <= 0].abs().sum() == 0


def test_ignored_priors_contribute_nothing(focal_cfg):
    loss = LOSSES.build(focal_cfg.loss)
    logits, box_deltas, labels, target_deltas = make_targets(focal_cfg, [5, 8], seed=2)
    ignored = labels == -1
    assert ignored.any(), "ArgMaxMatcher's 0.4-0.5 band should leave some priors ignored"
    out = loss(logits, box_deltas, labels, target_deltas)
    out["loss_cls"].backward()
    assert logits.grad[ignored].abs().sum() == 0

    wild = logits.detach().clone()
    wild[ignored] = 50.0
    assert loss(wild, box_deltas, labels, target_deltas)["loss_cls"] == pytest.approx(out["loss_cls"].item())
    as_background = loss(logits, box_deltas, labels.clamp(min=0), target_deltas)["loss_cls"]
    assert as_background > out["loss_cls"]  # counting them as background would add loss


def test_no_objects_gives_finite_loss(focal_cfg):
    loss = LOSSES.build(focal_cfg.loss)
    logits, box_deltas, labels, target_deltas = make_targets(focal_cfg, [0, 0])
    out = loss(logits, box_deltas, labels, target_deltas)
    assert out["loss_box"].item() == 0.0 and torch.isfinite(out["loss_cls"])
    ref_cls, _ = reference_loss(logits, box_deltas, labels, target_deltas)
    torch.testing.assert_close(out["loss_cls"], ref_cls)
    out["loss_cls"].backward()
    assert torch.isfinite(logits.grad).all()


def test_shape_mismatch_is_reported(focal_cfg):
    loss = LOSSES.build(focal_cfg.loss)
    with pytest.raises(ValueError, match="SigmoidFocalLoss"):
        loss(torch.zeros(2, 10, 21), torch.zeros(2, 10, 4), torch.zeros(2, 9, dtype=torch.long), torch.zeros(2, 10, 4))


def test_model_with_plugin_loss_from_config(monkeypatch):
    """A whole detector built from a config whose loss comes from the plugin: trains a step, predicts."""
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    from model_utils import build_model, sample

    cfg = Config.fromfile(str(REPO_ROOT / "configs" / "examples" / "ssd300_mobilenet_focal.py"))
    model = build_model(cfg)
    assert type(model.loss_fn).__name__ == "SigmoidFocalLoss" and origin_of(type(model.loss_fn)) != "ssdkit"
    x = torch.randn(2, 3, 300, 300)
    samples = [sample([[20, 30, 140, 200]], [4]), sample([[100, 100, 280, 290], [5, 5, 60, 60]], [1, 19])]
    optim = torch.optim.SGD(model.parameters(), lr=1e-3)
    losses = model(x, samples, mode="loss")
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    optim.step()
    model.eval()
    with torch.no_grad():
        out = model(x, [sample([], []), sample([], [])], mode="predict")
    assert out[0].pred_instances.scores.max() <= 1 and model.postprocessor.use_sigmoid


def test_custom_matcher_plugin_through_custom_imports(tmp_path, monkeypatch):
    """plugins/center_matcher.py, the README's worked matcher: loaded by a config's custom_imports, built into a
    detector, and its rule checked by hand: a prior with IoU >= 0.4 but its centre outside the gt is background."""
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    from ssdkit.core import SSDMatcher

    from model_utils import build_model, sample

    cfg_file = tmp_path / "center.py"
    cfg_file.write_text(
        f"_base_ = '{REPO_ROOT}/configs/ssdlite300_mobilenet.py'\n"
        "custom_imports = dict(imports=['plugins.center_matcher'], allow_failed_imports=False)\n"
        "model = dict(matcher=dict(_delete_=True, type='CenterInsideMatcher', iou_threshold=0.4))\n"
    )
    model = build_model(Config.fromfile(str(cfg_file)))
    matcher = model.matcher
    assert type(matcher).__name__ == "CenterInsideMatcher" and origin_of(type(matcher)) != "ssdkit"
    gt = torch.tensor([[[0.0, 0.0, 100.0, 5.0]]])  # a wide, flat box; IoUs worked by hand
    priors = torch.tensor(
        [
            [0.0, 0.0, 100.0, 5.0],  # IoU 1, centre inside: positive for both rules
            [0.0, -5.2, 100.0, 4.8],  # IoU 480/1020 = 0.47, centre y -0.2 outside the box
            [0.0, 2.0, 100.0, 8.0],  # IoU 300/800 = 0.375 < 0.4: background for both
            [0.0, 1.0, 100.0, 6.0],
        ]
    )  # IoU 400/600 = 0.67, centre inside: positive for both
    valid = torch.ones(1, 1, dtype=torch.bool)
    assert SSDMatcher(0.4)(gt, priors, valid).tolist() == [[0, 0, -1, 0]]
    assert matcher(gt, priors, valid).tolist() == [[0, -1, -1, 0]]  # the off-centre prior is background
    x = torch.randn(2, 3, 300, 300)
    losses = model(x, [sample([[20, 30, 140, 200]], [4]), sample([[100, 100, 280, 290]], [1])], mode="loss")
    assert all(torch.isfinite(v) for v in losses.values())
