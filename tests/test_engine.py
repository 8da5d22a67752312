"""Safe checkpoints (weights_only allow-list, atomic writes), NaN stop, tools and the inference API."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from ssdkit.engine import install_safe_checkpoints
from ssdkit.engine.checkpoint import atomic_save_checkpoint
from ssdkit.utils import atomic

from model_utils import ROOT, build_model, demo_config, sample


class Evil:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def test_mmengine_checkpoint_types_load_with_weights_only_and_others_are_refused(tmp_path):
    install_safe_checkpoints()
    buf = HistoryBuffer()
    buf.update(1.5)
    good = dict(
        state_dict=dict(w=torch.ones(2)),
        message_hub=dict(log_scalars={"train/loss": buf}),
        meta=dict(seed=np.int64(3), arr=np.arange(3)),
    )
    atomic_save_checkpoint(good, str(tmp_path / "good.pth"))
    loaded = _load_checkpoint(str(tmp_path / "good.pth"), map_location="cpu")
    assert loaded["message_hub"]["log_scalars"]["train/loss"].mean() == 1.5
    torch.save(dict(state_dict={}, payload=Evil()), tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load checkpoint '.*evil\.pth'.*system"):
        _load_checkpoint(str(tmp_path / "evil.pth"), map_location="cpu")


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "latest.pth"
    atomic_save_checkpoint(dict(v=torch.tensor([1.0])), str(path))

    def dies_midway(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt("killed during save")

    monkeypatch.setattr(atomic.torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        atomic_save_checkpoint(dict(v=torch.tensor([2.0])), str(path))
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["v"].item() == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pth"]  # no temporary left behind
    assert oct(path.stat().st_mode & 0o777) != "0o600"


def test_nan_loss_stops_before_the_update_naming_iteration_term_and_images():
    from mmengine.optim import OptimWrapper

    model = build_model("ssd300_mobilenet")
    before = [p.detach().clone() for p in model.parameters()]
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    inputs = [torch.full((3, 300, 300), 0, dtype=torch.uint8) for _ in range(2)]
    samples = [sample([[10, 10, 100, 100]], [1]), sample([[20, 20, 80, 90]], [2])]
    samples[1].set_metainfo(dict(img_id="img_nan"))
    with torch.no_grad():
        list(model.head.reg_convs[0].parameters())[-1].fill_(float("nan"))  # the box predictor's bias
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match=r"loss_box = nan at iteration .*img_nan"):
        model.train_step(dict(inputs=inputs, data_samples=samples), optim)
    after = list(model.parameters())
    assert all(torch.equal(a, b) or (a.isnan().any() and b.isnan().any()) for a, b in zip(before, after, strict=True))


@pytest.mark.slow
def test_inference_api_and_infer_tool(tmp_path):
    from ssdkit.apis import detect, init_detector

    model = build_model("ssd300_mobilenet")
    ckpt = tmp_path / "m.pth"
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=[f"c{i}" for i in range(20)]))), ckpt
    )
    cfg = str(ROOT / "configs/ssd300_mobilenet.py")
    det = init_detector(cfg, str(ckpt))
    det.postprocessor.score_thr = 0.0  # random weights: keep every candidate, so the list is full
    img = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    out = detect(det, [img, img], score_thr=0.0)
    assert len(out) == 2 and out[0]["boxes"].shape == (200, 4)
    assert out[0]["names"] == [f"c{k}" for k in out[0]["labels"]]  # one class name per detection
    score = float(out[0]["scores"].max())  # random weights: every class near 1/21
    assert len(detect(det, [img], score_thr=score + 1e-6)[0]["scores"]) == 0
    assert detect(det, [img], score_thr=float(out[0]["scores"].min()))[0]["scores"].shape == (200,)
    assert out[0]["boxes"][:, 2].max() <= 320 and out[0]["boxes"][:, 3].max() <= 240 and out[0]["boxes"].min() >= 0
    np.testing.assert_allclose(out[0]["scores"], out[1]["scores"], rtol=1e-5)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/infer.py"),
            cfg,
            str(ckpt),
            str(tmp_path / "a.png"),
            "--out-dir",
            str(tmp_path / "out"),
            "--score-thr",
            "0.0",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    records = json.loads((tmp_path / "out/detections.json").read_text())
    assert records[0]["image"] == str(tmp_path / "a.png") and records[0]["output"] == "a.jpg"
    assert (tmp_path / "out/a.jpg").exists() and len(records[0]["detections"]) == 200
    d = records[0]["detections"][0]
    assert set(d) == {"box", "score", "label", "name"} and d["name"] == f"c{d['label']}"


@pytest.mark.slow
def test_train_without_voc_says_where_and_how(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/train.py"),
            str(ROOT / "configs/ssd300_mobilenet.py"),
            "--work-dir",
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "data/VOCdevkit/VOC2007' does not exist" in proc.stderr and "make demo" in proc.stderr


def test_evaluation_shows_a_progress_bar_counting_images(tmp_path, capsys):
    from ssdkit.data.demo import make_demo_dataset
    from ssdkit.engine import build_runner

    make_demo_dataset(str(tmp_path / "d"), seed=2, num_train=1, num_val=3)
    cfg = demo_config(str(tmp_path / "d"), str(tmp_path / "w"))
    cfg.test_dataloader.batch_size = 1
    cfg.default_hooks.logger.interval = 2  # a log line after the second image, amid the bar
    build_runner(cfg).test()
    out = capsys.readouterr().out
    assert "] 2/3," in out  # after the second image
    assert re.search(r"\] 3/3, [\d.]+ images/s, elapsed: \d+s, ETA: 0s", out), out[-2000:]
    assert "Iter(test) [2/3]" in out  # the logger's line is in the same stream
    for line in out.splitlines():  # the bar ends its line before the logger's Iter(test) line
        assert not ("images/s" in line and "Iter(test)" in line), line


def test_resume_takes_the_named_checkpoint_else_the_newest_numbered_one(tmp_path):
    from ssdkit.engine.checkpoint import latest_checkpoint

    assert latest_checkpoint(str(tmp_path)) is None
    for name in ("iter_2.pth", "iter_10.pth", "iter_9.pth", "best_pascal_voc_mAP_iter_2.pth", "iter_x.pth"):
        (tmp_path / name).write_bytes(b"")
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / "iter_10.pth")  # no pointer: 10 > 9 > 2, numerically
    pointer = tmp_path / "last_checkpoint"
    pointer.write_text(str(tmp_path / "iter_2.pth"))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / "iter_2.pth")  # the pointer wins when its file exists
    for stale in ("", "  \n", str(tmp_path / "iter_4.pth")):  # emptied by a kill mid-write; a removed file
        pointer.write_text(stale)
        assert latest_checkpoint(str(tmp_path)) == str(tmp_path / "iter_10.pth")
