"""tools/plot_logs.py: mmengine's scalars.json read back on the iteration axis, resumed runs joined, keys matched, the
drawn lines equal to the curves, and the errors.

The logs come from mmengine itself: a toy model trained by mmengine's Runner (its LoggerHook, LogProcessor and
LocalVisBackend), whose every logged value is known: ``loss = offset + iterations done``, ``loss_cls = 2 *
iterations done``, and the validation metric ``toy/mAP = iterations done / 100``.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.visualization import LocalVisBackend

from ssdkit.analysis.logs import (
    Curve,
    LogError,
    find_scalars,
    load_runs,
    match_names,
    read_scalars,
    select_curves,
    summarize,
    summary_line,
)
from ssdkit.engine import install_safe_checkpoints
from ssdkit.visualization import curves_figure
from ssdkit.visualization._mpl import pyplot

from model_utils import load_tool

plot_logs = load_tool("plot_logs")


class Toy(BaseModel):
    """A model whose losses count its training iterations (a buffer, so a resumed run goes on counting)."""

    def __init__(self, offset: float = 0.0) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.offset = offset

    def forward(self, inputs, data_samples=None, mode="tensor"):
        if mode == "loss":
            self.calls += 1
            zero = (self.w * 0).sum()
            return dict(loss=zero + self.offset + float(self.calls), loss_cls=zero + 2.0 * float(self.calls))
        return [dict(calls=int(self.calls))]


class ToyMetric(BaseMetric):
    default_prefix = "toy"

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results) -> dict:
        return dict(mAP=results[0]["calls"] / 100)


def loader(n: int) -> dict:
    return dict(
        dataset=[dict(inputs=torch.zeros(1))] * n,
        sampler=dict(type="DefaultSampler", shuffle=False),
        batch_size=1,
        num_workers=0,
        collate_fn=dict(type="default_collate"),
    )


def train(
    work_dir: Path,
    name: str,
    train_cfg: dict,
    logger: dict,
    by_epoch: bool,
    n_train: int,
    offset: float = 0.0,
    load_from: Path | None = None,
) -> None:
    """Train ``Toy`` with mmengine's Runner (``log_processor`` window 1: each logged loss is that iteration's)."""
    Runner(
        model=Toy(offset),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=loader(n_train),
        val_dataloader=loader(1),
        val_evaluator=[ToyMetric()],
        train_cfg=train_cfg,
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        default_hooks=dict(
            logger=dict(type="LoggerHook", **logger),
            checkpoint=dict(type="CheckpointHook", interval=4, by_epoch=by_epoch),
        ),
        log_processor=dict(window_size=1, by_epoch=by_epoch),
        resume=load_from is not None,
        load_from=None if load_from is None else str(load_from),
        default_scope="mmengine",
    ).train()


def timestamp_folders(work_dir: Path) -> list[Path]:
    return [p for p in work_dir.iterdir() if p.is_dir()]


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    """``it``: iteration-based, 6 iterations with validation every 3 (``log_metric_by_epoch`` left True: val step 0),
    then resumed from iteration 4 to 10 with ``offset=1000`` and ``log_metric_by_epoch=False`` (val step = iteration):
    two timestamp folders that overlap at iterations 5 and 6. ``ep``: epoch-based, 3 epochs of 5 iterations, logged
    every 2 iterations and at each epoch's end (``ignore_last=False``), validated after every epoch."""
    install_safe_checkpoints()
    root = tmp_path_factory.mktemp("logs")
    it, ep = root / "it", root / "ep"
    train(it, "it1", dict(type="IterBasedTrainLoop", max_iters=6, val_interval=3), dict(interval=1), False, 20)
    (first,) = timestamp_folders(it)
    first.rename(it / "20200101_000000")  # an earlier start, and no clash with the resumed run's folder
    train(
        it,
        "it2",
        dict(type="IterBasedTrainLoop", max_iters=10, val_interval=3),
        dict(interval=1, log_metric_by_epoch=False),
        False,
        20,
        offset=1000,
        load_from=it / "iter_4.pth",
    )
    train(
        ep,
        "ep1",
        dict(type="EpochBasedTrainLoop", max_epochs=3, val_interval=1),
        dict(interval=2, ignore_last=False),
        True,
        5,
    )
    return dict(it=it, ep=ep)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_mmengine_writes_the_lines_the_reader_expects(logs):
    """The facts logs.py relies on: training lines carry ``iter == step``, validation lines no ``iter`` and a step
    that counts epochs (0 in an iteration-based loop) or, with ``log_metric_by_epoch=False``, iterations."""
    first, resumed = find_scalars(logs["it"])
    assert first.parts[-3] == "20200101_000000" and resumed.parts[-3] > "2020"
    (ep,) = find_scalars(logs["ep"])
    for path, val_steps in ((first, [0, 0]), (resumed, [6, 9, 10]), (ep, [1, 2, 3])):
        lines = rows(path)
        assert all(r["iter"] == r["step"] for r in lines if "loss" in r)
        assert [r["step"] for r in lines if "toy/mAP" in r] == val_steps
        assert not any("iter" in r for r in lines if "toy/mAP" in r)


def test_a_resumed_run_is_joined_in_time_order_the_later_value_kept(logs):
    (run,) = load_runs([logs["it"]])
    assert run.label == "it" and [f.parts[-3] for f in run.files] == ["20200101_000000", run.files[1].parts[-3]]
    steps, values = run.scalars["loss"]
    assert steps.dtype == np.int64 and steps.tolist() == list(range(1, 11))
    assert values.tolist() == [1, 2, 3, 4, 1005, 1006, 1007, 1008, 1009, 1010]  # 5, 6 from the resumed run
    steps, values = run.scalars["loss_cls"]
    assert steps.tolist() == list(range(1, 11)) and values.tolist() == [2.0 * s for s in range(1, 11)]
    # validation at iterations 3 and 6 (step 0 in the file), then 6, 9 and 10 (steps as written)
    steps, values = run.scalars["toy/mAP"]
    assert steps.tolist() == [3, 6, 9, 10]
    np.testing.assert_allclose(values, steps / 100)
    # the same from the files by hand: training lines by step, later file last
    expected: dict[int, float] = {}
    for path in run.files:
        expected.update({r["step"]: r["time"] for r in rows(path) if "iter" in r})
    assert run.scalars["time"][0].tolist() == sorted(expected)
    assert run.scalars["time"][1].tolist() == [expected[s] for s in sorted(expected)]
    assert run.scalars["val/time"][0].tolist() == [3, 6, 9, 10]  # validation's time kept apart from training's
    assert not {"step", "iter", "epoch"} & set(run.scalars)


def test_epoch_based_validation_is_put_at_its_epoch_end_iteration(logs):
    (run,) = load_runs([logs["ep"]])
    steps, values = run.scalars["loss"]
    assert steps.tolist() == [2, 4, 5, 7, 9, 10, 12, 14, 15] and values.tolist() == steps.tolist()
    steps, values = run.scalars["toy/mAP"]
    assert steps.tolist() == [5, 10, 15]  # epochs 1, 2, 3 of 5 iterations, not 1, 2, 3
    np.testing.assert_allclose(values, [0.05, 0.10, 0.15])


def write_log(folder: Path, lines: list[dict]) -> Path:
    """``lines`` through mmengine's LocalVisBackend into ``folder/vis_data/scalars.json`` (as the Runner's does)."""
    backend = LocalVisBackend(str(folder / "vis_data"))
    for line in lines:
        line = dict(line)
        backend.add_scalars(line, step=line.pop("step"))
    return folder / "vis_data/scalars.json"


def train_line(it: int, loss: float, epoch: int | None = None) -> dict:
    """A line as ``LoggerHook.after_train_iter`` writes it (``LogProcessor``, ``by_epoch`` when ``epoch``)."""
    line = dict(lr=0.01, data_time=0.01, loss=loss, time=0.1)
    return {**line, **({} if epoch is None else dict(epoch=epoch)), "iter": it, "step": it}


def val_line(step: int, m_ap: float) -> dict:
    """A line as ``LoggerHook.after_val_epoch`` writes it."""
    return {"pascal_voc/mAP": m_ap, "data_time": 0.01, "time": 0.2, "step": step}


def test_validation_is_put_at_the_last_logged_iteration_before_it(tmp_path):
    """Epochs of 5 iterations logged every 2 with ``ignore_last=True``: the epoch's 5th iteration is not logged, so
    its validation sits at the 4th (the documented approximation); a validation before any training sits at 0."""
    path = write_log(
        tmp_path / "w" / "20240101_000000",
        [
            val_line(0, 0.01),
            train_line(2, 3.0, 1),
            train_line(4, 2.5, 1),
            val_line(1, 0.2),
            train_line(7, 2.0, 2),
            train_line(9, 1.5, 2),
            val_line(2, 0.4),
        ],
    )
    scalars = read_scalars([path])
    assert scalars["pascal_voc/mAP"][0].tolist() == [0, 4, 9]
    assert scalars["pascal_voc/mAP"][1].tolist() == [0.01, 0.2, 0.4]
    assert scalars["loss"][0].tolist() == [2, 4, 7, 9]


def test_keys_match_exactly_or_as_the_last_part_of_a_name():
    names = [
        "loss",
        "loss_cls",
        "time",
        "val/time",
        "pascal_voc/mAP",
        "coco/bbox_mAP",
        "coco/bbox_mAP_50",
        "val/coco/AP",
    ]
    assert match_names("mAP", names) == ["pascal_voc/mAP"]
    assert match_names("coco/bbox_mAP", names) == ["coco/bbox_mAP"]
    assert match_names("bbox_mAP", names) == ["coco/bbox_mAP"]
    assert match_names("loss", names) == ["loss"]  # not loss_cls
    assert match_names("time", names) == ["time"]  # an exact name wins over val/time
    assert match_names("coco/AP", names) == ["val/coco/AP"]
    assert match_names("AP", names) == ["val/coco/AP"]
    assert match_names("cls", names) == [] and match_names("P", names) == []


def test_a_key_no_run_logged_is_an_error_that_lists_the_keys(logs):
    runs = load_runs([logs["it"], logs["ep"]])
    with pytest.raises(
        LogError,
        match=r"^key 'mAp' is in no run's scalars.json \(did you mean 'mAP'\?\); "
        r"'.*it', '.*ep' logged: data_time, loss, loss_cls, lr, time, toy/mAP, "
        r"val/data_time, val/time$",
    ):
        select_curves(runs, ["loss", "mAp"])
    with pytest.raises(SystemExit, match=r"^error: key 'los' is in no run's scalars.json \(did you mean 'loss'\?\); "):
        plot_logs.main([str(logs["it"]), "--keys", "los"])
    assert [c.key for c in select_curves(runs, ["nothing", "loss"], missing_ok=True)] == ["loss", "loss"]
    with pytest.raises(LogError, match=r"^none of the keys 'a', 'b' is in any run's scalars.json"):
        select_curves(runs, ["a", "b"], missing_ok=True)


def test_a_work_dir_without_scalars_is_an_error_naming_it(tmp_path, monkeypatch):
    (tmp_path / "w" / "20240101_000000").mkdir(parents=True)
    with pytest.raises(
        FileNotFoundError,
        match=r"no scalars.json in '.*/w': looked for .*/w/<timestamp>/"
        r"vis_data/scalars.json",
    ):
        find_scalars(tmp_path / "w")
    with pytest.raises(SystemExit, match=r"^error: no scalars.json in '.*/w': looked for"):
        plot_logs.main([str(tmp_path / "w")])
    with pytest.raises(SystemExit, match=r"^error: work dir '.*/missing' does not exist$"):
        plot_logs.main([str(tmp_path / "missing")])
    monkeypatch.setenv("SSDKIT_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        plot_logs.main([str(tmp_path / "w")])


def test_an_unfinished_last_line_is_skipped_a_bad_line_inside_is_an_error(tmp_path):
    path = write_log(tmp_path / "w" / "20240101_000000", [train_line(1, 2.0), train_line(2, float("nan"))])
    with open(path, "a") as f:
        f.write('{"lr": 0.01, "loss": 1.')
    with pytest.warns(UserWarning, match=r"scalars.json:3: skipped an unfinished last line"):
        steps, values = read_scalars([path])["loss"]
    assert steps.tolist() == [1, 2] and values[0] == 2.0 and np.isnan(values[1])  # mmengine writes NaN as NaN
    with open(path, "a") as f:
        f.write("\n" + json.dumps(train_line(3, 1.0)) + "\n")
    with pytest.raises(LogError, match=r"scalars.json:3: not a json object"):
        read_scalars([path])


def test_summary_gives_first_last_min_max_with_their_iterations():
    curve = Curve("r", "loss", "loss", np.array([10, 20, 30, 40, 50]), np.array([3.0, np.nan, 1.0, 4.0, 2.0]))
    s = summarize(curve)
    assert (s.first, s.first_step, s.last, s.last_step) == (3.0, 10, 2.0, 50)
    assert (s.min, s.min_step, s.max, s.max_step, s.points) == (1.0, 30, 4.0, 40, 5)
    assert summary_line(curve) == "r  loss: first 3 (it 10), last 2 (it 50), min 1 (it 30), max 4 (it 40), 5 points"


def test_the_figure_draws_each_curve_in_its_keys_subplot(logs):
    runs = load_runs([logs["it"], logs["ep"]])
    curves = select_curves(runs, ["loss", "mAP", "lr"])
    fig = curves_figure(curves)
    try:
        axes = fig.get_axes()
        assert [ax.get_title() for ax in axes] == ["loss", "mAP", "lr"]
        for ax in axes:
            mine = [c for c in curves if c.key == ax.get_title()]
            assert len(ax.get_lines()) == len(mine) == 2
            for line, c in zip(ax.get_lines(), mine, strict=True):
                np.testing.assert_array_equal(line.get_xdata(), c.steps)
                np.testing.assert_array_equal(line.get_ydata(), c.values)
            assert ax.get_xlabel() == "iteration"
            assert [t.get_text() for t in ax.get_legend().get_texts()] == (
                ["it (toy/mAP)", "ep (toy/mAP)"] if ax.get_title() == "mAP" else ["it", "ep"]
            )
            assert [line.get_color() for line in ax.get_lines()] == ["C0", "C1"]  # one colour per run
        loss_it = axes[0].get_lines()[0]
        assert loss_it.get_xdata().tolist() == list(range(1, 11)) and loss_it.get_ydata()[4] == 1005
        assert axes[1].get_lines()[1].get_xdata().tolist() == [5, 10, 15]
    finally:
        pyplot().close(fig)


def test_clashing_names_are_labelled_by_path_and_a_run_without_a_key_says_so(tmp_path, capsys):
    a, b = tmp_path / "a" / "run", tmp_path / "b" / "run"
    write_log(a / "20240101_000000", [train_line(1, 2.0), train_line(2, 1.0), val_line(0, 0.3)])
    write_log(b / "20240101_000000", [train_line(1, 4.0), train_line(2, 3.0)])
    curves = plot_logs.main([str(a), str(b), "--out", str(tmp_path / "c.png")])
    assert sorted({c.run for c in curves}) == [str(a), str(b)]
    out = capsys.readouterr().out.splitlines()
    assert f"{a}  pascal_voc/mAP: first 0.3 (it 2), last 0.3 (it 2), min 0.3 (it 2), max 0.3 (it 2), 1 point" in out
    assert f"{b}  mAP: not logged" in out
    with pytest.raises(SystemExit, match="given twice"):
        plot_logs.main([str(a), str(a) + "/", "--out", str(tmp_path / "c.png")])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_tool_writes_the_png_and_prints_a_summary_per_run_and_key(logs, tmp_path, capsys):
    out = tmp_path / "pics" / "curves.png"
    curves = plot_logs.main(
        [str(logs["it"]), str(logs["ep"]), "--keys", "loss", "loss_cls", "lr", "mAP", "--out", str(out)]
    )
    width, height = png_size(out)
    assert width > 1000 and height > 600  # two columns, two rows
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "it  loss: first 1 (it 1), last 1010 (it 10), min 1 (it 1), max 1010 (it 10), 10 points"
    assert printed[1] == "ep  loss: first 2 (it 2), last 15 (it 15), min 2 (it 2), max 15 (it 15), 9 points"
    assert "ep  toy/mAP: first 0.05 (it 5), last 0.15 (it 15), min 0.05 (it 5), max 0.15 (it 15), 3 points" in printed
    assert printed[-1] == f"2 runs, 8 curves -> {out}"
    assert [(c.run, c.key) for c in curves] == [(r, k) for k in ("loss", "loss_cls", "lr", "mAP") for r in ("it", "ep")]
    assert not list(out.parent.glob(".*.tmp"))  # written atomically


def test_default_keys_are_those_logged(logs, tmp_path, capsys):
    copy = tmp_path / "it"
    shutil.copytree(logs["it"], copy, ignore=shutil.ignore_patterns("*.pth"))
    curves = plot_logs.main([str(copy), "--out", str(tmp_path / "c.png")])
    assert [c.name for c in curves] == ["loss", "lr", "toy/mAP"]  # bbox_mAP: logged by no run, skipped
    assert "bbox_mAP" not in capsys.readouterr().out
