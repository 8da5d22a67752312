"""tools/benchmark.py and ssdkit.analysis.stages: the staged pass computes what test_step computes, the stage times
add up to the whole predict, and the report lists every stage. No test asserts a speed."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from ssdkit.analysis.stages import (
    CONSISTENCY_MARGIN,
    STAGES,
    StageReport,
    build_loader,
    format_report,
    same_detections,
    staged_predict,
    time_stages,
)
from ssdkit.apis import init_detector
from ssdkit.data.demo import make_demo_dataset

from model_utils import ROOT, demo_config, load_tool

DEMO = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")
NUM_VAL = 4


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo")
    make_demo_dataset(str(data), num_train=6, num_val=NUM_VAL)
    return data


@pytest.fixture(scope="module")
def model_and_loader(demo_data, tmp_path_factory):
    cfg = demo_config(str(demo_data), str(tmp_path_factory.mktemp("work")), background_prior=False)
    loader = build_loader(cfg, "test", batch_size=2)
    torch.manual_seed(0)
    return init_detector(cfg), loader


@pytest.mark.parametrize("channels_last", [True, False])
def test_the_staged_pass_gives_test_steps_detections(model_and_loader, channels_last):
    model, loader = model_and_loader
    model.set_channels_last(channels_last)
    try:
        batch = next(iter(loader))
        with torch.no_grad():
            staged, seconds = staged_predict(model, dict(batch))
            whole = model.test_step(dict(batch))
    finally:
        model.set_channels_last(True)  # eval mode's 'auto' choice
    assert len(staged) == len(whole) == 2
    assert same_detections(staged, whole)
    for s, w in zip(staged, whole, strict=True):
        assert len(s.pred_instances) > 0  # random weights: many boxes pass score_thr 0.01
        assert torch.equal(s.pred_instances.bboxes, w.pred_instances.bboxes)
        assert torch.equal(s.pred_instances.scores, w.pred_instances.scores)
        assert torch.equal(s.pred_instances.labels, w.pred_instances.labels)
    assert set(seconds) == set(STAGES) and all(t > 0 for t in seconds.values())
    other = copy.deepcopy(whole)
    other[1].pred_instances.scores[0] += 1e-3
    assert not same_detections(staged, other)  # the comparison can fail


def test_the_stage_times_add_up_to_the_whole_predict(model_and_loader):
    """One torch thread, and the stages' summed CPU time of the timing thread against the whole predict's: waiting
    for a core that other work holds on a shared machine counts in wall time, not in CPU time, and the median of
    the paired per-batch ratios is not moved by a few disturbed passes."""
    model, loader = model_and_loader
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        report = time_stages(model, loader, iters=20, warmup=2)  # 4 images, batch 2: the loader starts over 10 times
    finally:
        torch.set_num_threads(threads)
    assert report.first_batch_equal
    assert report.iters == 20 and report.images == [2] * 20 and report.num_images == 40
    assert all(len(times) == 20 and min(times) > 0 for times in report.seconds.values())
    assert set(report.seconds) == {"data", *STAGES, "predict"}
    assert set(report.cpu_seconds) == {*STAGES, "predict"}
    assert all(len(times) == 20 and min(times) >= 0 for times in report.cpu_seconds.values())
    assert sum(report.detections) == pytest.approx(report.detections_per_image * 40)
    assert 0 < report.detections_per_image <= model.postprocessor.max_per_img
    ratio = report.stage_sum_ratio(clock="cpu")
    assert abs(ratio - 1) <= CONSISTENCY_MARGIN, f"stage sum / predict in CPU time = {ratio:.3f}"
    assert report.consistent(clock="cpu")
    # the check can fail: without the backbone the stages no longer add up to predict
    assert report.share("backbone") > 2 * CONSISTENCY_MARGIN
    assert report.stage_sum_ratio(exclude=["backbone"], clock="cpu") < 1 - CONSISTENCY_MARGIN
    assert not report.consistent(exclude=["backbone"], clock="cpu")
    assert sum(report.share(s) for s in STAGES) == pytest.approx(1.0)
    assert report.peak_memory_mib > 0 and report.memory_growth_mib >= 0 and report.memory_kind == "peak RSS"


def test_the_staged_pass_follows_a_change_to_the_detector(model_and_loader, monkeypatch):
    """One predict path: a changed decode or postprocessing in ``SSD`` changes the staged pass's detections too."""
    model, loader = model_and_loader
    batch = next(iter(loader))
    with torch.no_grad():
        before, _ = staged_predict(model, dict(batch))
        monkeypatch.setattr(type(model), "decode", lambda self, deltas, priors: priors.expand_as(deltas).clone())
        decoded_as_priors, _ = staged_predict(model, dict(batch))
        assert same_detections(decoded_as_priors, model.test_step(dict(batch)))
        monkeypatch.undo()
        post = model.postprocessor
        monkeypatch.setattr(post, "max_per_img", 3)
        capped, _ = staged_predict(model, dict(batch))
    assert not same_detections(before, decoded_as_priors)
    assert all(len(s.pred_instances) == 3 for s in capped) and not same_detections(before, capped)


def _report(seconds: dict[str, list[float]], images: list[int]) -> StageReport:
    return StageReport(
        seconds=seconds,
        images=images,
        detections=[n * 3 for n in images],
        device="cpu",
        num_workers=0,
        warmup=0,
        peak_memory_mib=100.0,
        memory_growth_mib=5.0,
        memory_kind="peak RSS",
        first_batch_equal=True,
        machine="CPU test; 2 threads",
    )


def test_the_report_numbers_by_hand():
    stage = dict(preprocess=0.01, backbone=0.05, neck=0.01, head=0.01, decode=0.01, nms=0.01)  # 0.1 s a batch
    seconds = {s: [t, t, 2 * t] for s, t in stage.items()}
    seconds["data"] = [0.02, 0.02, 0.02]
    seconds["predict"] = [0.1, 0.5, 0.2]  # the second whole pass slowed 5x by another process
    report = _report(seconds, images=[4, 4, 2])
    assert report.ms_per_image("backbone") == pytest.approx(12.5)  # median of 12.5, 12.5, 50
    assert report.images_per_s("backbone") == pytest.approx(80.0)
    assert report.share("backbone") == pytest.approx(0.5)
    assert report.stage_sum_ratio() == pytest.approx(1.0)  # median of 1, 0.2, 1: the burst does not move it
    assert report.stage_sum_ratio(exclude=["backbone"]) == pytest.approx(0.5)
    assert report.consistent() and not report.consistent(exclude=["backbone"])
    assert report.detections_per_image == pytest.approx(3.0)
    text = format_report(report, "title")
    assert "weights: random" in text and "3.0 detections per image" in text and "within the 20% margin" in text


def _table(text: str) -> dict[str, tuple[float, float, str]]:
    """``{stage: (ms/image, images/s, share)}`` from the printed table."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"(\w+(?: sum)?)\s+([\d.]+)\s+([\d.]+)\s+(\S+)", line)
        if m:
            rows[m[1]] = (float(m[2]), float(m[3]), m[4])
    return rows


def test_the_tool_prints_every_stage(demo_data, tmp_path, capsys):
    benchmark = load_tool("benchmark")
    root = f"{demo_data}/"
    report = benchmark.main(
        [
            DEMO,
            "--batch",
            "3",
            "--iters",
            "3",
            "--warmup",
            "1",
            "--split",
            "val",
            "--work-dir",
            str(tmp_path),
            "--cfg-options",
            f"val_dataloader.dataset.data_root={root}",
            f"test_dataloader.dataset.data_root={root}",
        ]
    )
    out = capsys.readouterr().out
    assert report.iters == 3 and report.images == [1, 3, 1]  # 4 images in batches of 3, 1, 3, 1: warm-up took a 3
    rows = _table(out)
    for stage in ("data", *STAGES, "stage sum", "predict"):
        assert stage in rows, f"{stage} missing from:\n{out}"
    for stage in ("data", *STAGES, "predict"):
        ms, per_s, _ = rows[stage]
        assert ms == pytest.approx(report.ms_per_image(stage), abs=0.006)
        assert per_s == pytest.approx(report.images_per_s(stage), abs=0.06)
    assert rows["stage sum"][0] == pytest.approx(sum(report.ms_per_image(s) for s in STAGES), abs=0.006)
    shares = [float(rows[s][2].rstrip("%")) for s in STAGES]
    assert sum(shares) == pytest.approx(100, abs=0.5)
    assert rows["data"][2] == "-"
    assert "weights: random" in out and "detections per image" in out and "peak RSS" in out
    assert re.search(r"\d+ threads?", out) and "CPU" in out
    assert "staged detections equal test_step's" in out and "stage sum / predict" in out


def test_the_tool_loads_a_checkpoint(model_and_loader, demo_data, tmp_path, capsys):
    model, _ = model_and_loader
    ckpt = tmp_path / "w.pth"
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=model.dataset_meta["classes"]))), ckpt
    )
    benchmark = load_tool("benchmark")
    report = benchmark.main(
        [
            DEMO,
            str(ckpt),
            "--iters",
            "2",
            "--warmup",
            "0",
            "--work-dir",
            str(tmp_path),
            "--cfg-options",
            f"test_dataloader.dataset.data_root={demo_data}/",
        ]
    )
    out = capsys.readouterr().out
    assert f"weights: {ckpt}" in out and "random" not in out
    assert report.images == [NUM_VAL, NUM_VAL]  # the loader's batch_size (16) takes all 4 images
    assert report.first_batch_equal


@pytest.mark.parametrize(
    "args, message",
    [
        (["configs/nope.py"], r"^error: config file 'configs/nope.py' does not exist"),
        ([DEMO, "missing.pth"], r"^error: checkpoint 'missing.pth' does not exist$"),
        ([DEMO, "--iters", "0"], r"^error: --batch and --iters must be at least 1"),
    ],
)
def test_errors_are_one_line(args, message):
    benchmark = load_tool("benchmark")
    with pytest.raises(SystemExit) as exc:
        benchmark.main(args)
    assert re.match(message, str(exc.value)) and "\n" not in str(exc.value)
