"""Training curves from mmengine's ``scalars.json``: a work dir's logs found and joined, every point on the iteration
axis, keys picked by name, and a one-line summary per curve.

What mmengine 0.10 writes (``LocalVisBackend``: one json object per line of
``WORK_DIR/<timestamp>/vis_data/scalars.json``, one timestamp folder per start of the Runner, so a resumed run has
several):

- a training line (``LoggerHook.after_train_iter`` every ``interval`` iterations, from
  ``LogProcessor.get_log_after_iter``): ``lr``, the losses, ``time``, ``data_time`` (``grad_norm``, ``memory`` where
  logged), ``epoch`` if the log processor is ``by_epoch``, and ``iter`` and ``step``, both ``runner.iter + 1``: the
  iterations done, in iteration- and epoch-based loops alike. ``log_with_hierarchy=True`` names them ``train/<name>``.
- a validation line (``LoggerHook.after_val_epoch``, from ``LogProcessor.get_log_after_epoch``): the metrics
  (``pascal_voc/mAP``, ``coco/bbox_mAP``, ...), ``time``, ``data_time`` and ``step``, and no ``iter``. Its ``step`` is
  ``runner.epoch`` under ``LoggerHook(log_metric_by_epoch=True)``, the default (always 0 in an ``IterBasedTrainLoop``,
  which counts no epochs), else ``runner.iter`` (the iterations done).

A line with ``iter`` is a training line, any other a validation line. A validation line's names without a ``/`` get
the prefix ``val/`` (its ``time`` is not training's ``time``); ``step``, ``iter`` and ``epoch`` are no curves.
"""

from __future__ import annotations

import difflib
import json
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

import numpy as np

SCALARS = "vis_data/scalars.json"
BOOKKEEPING = ("step", "iter", "epoch")
TIMESTAMP = re.compile(r"\d{8}_\d{6}")  # mmengine's Runner.timestamp, '%Y%m%d_%H%M%S'
DEFAULT_KEYS = ("loss", "lr", "mAP", "bbox_mAP")


class LogError(ValueError):
    """A log that cannot be read, or a key that no run logged."""


@dataclass(frozen=True)
class Run:
    """One work dir's logs: ``scalars[name] = (steps int64 [N] increasing, values float64 [N])``, steps in
    iterations done; ``files`` its scalars.json files in time order."""

    label: str
    work_dir: Path
    files: tuple[Path, ...]
    scalars: dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Curve:
    """One logged scalar of one run: ``steps`` int64 [N] (iterations done, increasing), ``values`` float64 [N].
    ``key`` is what was asked for (one subplot per key), ``name`` what the log calls it (``key`` or ``.../key``)."""

    run: str
    key: str
    name: str
    steps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Summary:
    """First, last, least and greatest value of a curve, each with its iteration (min/max over finite values)."""

    first: float
    first_step: int
    last: float
    last_step: int
    min: float
    min_step: int
    max: float
    max_step: int
    points: int


def _started(folder: Path) -> float:
    """When a timestamp folder's run started: its name (mmengine's timestamp, local time), else its log's mtime."""
    if TIMESTAMP.fullmatch(folder.name):
        return time.mktime(time.strptime(folder.name, "%Y%m%d_%H%M%S"))
    return (folder / SCALARS).stat().st_mtime


def find_scalars(work_dir: str | Path) -> list[Path]:
    """The ``scalars.json`` files of a work dir (``WORK_DIR/<timestamp>/vis_data/scalars.json``), oldest run first;
    a single timestamp folder also works."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        raise FileNotFoundError(f"work dir '{work_dir}' does not exist")
    if (work_dir / SCALARS).is_file():
        return [work_dir / SCALARS]
    folders = sorted(
        (p.parent.parent for p in work_dir.glob(f"*/{SCALARS}") if p.is_file()),
        key=lambda folder: (_started(folder), folder.name),
    )
    if not folders:
        raise FileNotFoundError(
            f"no scalars.json in '{work_dir}': looked for {work_dir}/<timestamp>/{SCALARS}, "
            "which mmengine's LocalVisBackend writes (visualizer=dict(type='Visualizer', "
            "vis_backends=[dict(type='LocalVisBackend')]))"
        )
    return [folder / SCALARS for folder in folders]


def _lines(path: Path) -> Iterator[dict]:
    """The json objects of one scalars.json; an unfinished last line (a run killed mid-write) is skipped with a
    warning, any other bad line is an error naming the file and line."""
    rows = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    for i, (n, line) in enumerate(rows):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            yield row
        elif i == len(rows) - 1:
            warnings.warn(f"{path}:{n}: skipped an unfinished last line", stacklevel=2)
        else:
            raise LogError(f"{path}:{n}: not a json object: {line[:80]!r}")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_scalars(files: Sequence[str | Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (steps int64 [N], values float64 [N])}`` from scalars.json files in time order, steps increasing.

    The x-axis is iterations done. A training line is at its ``step``. A validation line is at its ``step`` when that
    is not less than the ``step`` of the last training line before it (the step counts iterations), else at that
    training line's ``step`` (the step counts epochs, or is ``IterBasedTrainLoop``'s 0). An epoch count ``e`` cannot
    pass the test unless an epoch is one iteration (then the two agree): epoch ``e`` ends at iteration ``e * L`` (``L``
    iterations per epoch), and the last training line before it is at ``e * L`` if ``L <= interval``, else at least at
    ``e * L - interval + 1 > e``. So an epoch-based validation sits at the last logged iteration of its epoch: exactly
    the epoch's end when ``L`` is at most ``LoggerHook.interval`` or a multiple of it, or ``ignore_last=False``; else
    up to ``interval - 1`` iterations early. Likewise for step 0 when ``val_interval`` is no multiple of ``interval``.

    Files are joined in the order given (the last training line carries over into the next file); where two lines
    give one name a value at the same iteration, the later line's value is kept (a resumed run redoing steps).
    """
    points: dict[str, dict[int, float]] = {}
    last_train: int | None = None
    for path in files:
        for row in _lines(Path(path)):
            step = row.get("step")
            if not _is_number(step):
                continue
            train = "iter" in row
            x = int(step)
            if train:
                last_train = x
            elif last_train is not None and x < last_train:
                x = last_train
            for name, value in row.items():
                if name in BOOKKEEPING or not _is_number(value):
                    continue
                if not train and "/" not in name:
                    name = f"val/{name}"
                points.setdefault(name, {})[x] = float(value)
    out = {}
    for name, by_step in points.items():
        steps = np.array(sorted(by_step), dtype=np.int64)
        out[name] = steps, np.array([by_step[s] for s in steps.tolist()], dtype=np.float64)
    return out


def load_runs(work_dirs: Sequence[str | Path]) -> list[Run]:
    """Each work dir's joined logs, labelled by the folder's name (by the path as given where names clash)."""
    dirs = [Path(d) for d in work_dirs]
    resolved = [d.resolve() for d in dirs]
    for i, d in enumerate(resolved):
        if d in resolved[:i]:
            raise LogError(f"work dir '{dirs[i]}' is given twice")
    names = [r.name for r in resolved]
    labels = [str(d) if names.count(n) > 1 else n for d, n in zip(dirs, names, strict=True)]
    runs = []
    for label, d in zip(labels, dirs, strict=True):
        files = find_scalars(d)
        runs.append(Run(label, d, tuple(files), read_scalars(files)))
    return runs


def match_names(key: str, names: Iterable[str]) -> list[str]:
    """The logged names ``key`` means: itself if logged, else every name ending in ``/key`` (``mAP`` matches
    ``pascal_voc/mAP``; ``pascal_voc/mAP`` matches ``val/pascal_voc/mAP``)."""
    names = list(names)
    if key in names:
        return [key]
    return sorted(n for n in names if n.endswith(f"/{key}"))


def _unknown_keys(keys: Sequence[str], runs: Sequence[Run]) -> LogError:
    """The error for keys that no run logged: what was logged, and the closest names."""
    logged = sorted({n for r in runs for n in r.scalars})
    candidates = sorted(set(logged) | {n.rsplit("/", 1)[-1] for n in logged})
    close = [c for key in keys for c in difflib.get_close_matches(key, candidates, n=3)]
    hint = f" (did you mean {' or '.join(repr(c) for c in dict.fromkeys(close))}?)" if close else ""
    what = (
        f"key '{keys[0]}' is in no run's"
        if len(keys) == 1
        else f"none of the keys {', '.join(map(repr, keys))} is in any run's"
    )
    where = ", ".join(f"'{r.work_dir}'" for r in runs)
    return LogError(f"{what} scalars.json{hint}; {where} logged: {', '.join(logged) or 'nothing'}")


def select_curves(runs: Sequence[Run], keys: Sequence[str], missing_ok: bool = False) -> list[Curve]:
    """The curves of ``keys`` in every run (key by key, run by run). A key that no run logged is a ``LogError`` that
    lists the logged names; with ``missing_ok`` it is skipped, unless no key is found at all."""
    curves = []
    for key in keys:
        found = [
            Curve(run.label, key, name, *run.scalars[name]) for run in runs for name in match_names(key, run.scalars)
        ]
        if not found and not missing_ok:
            raise _unknown_keys([key], runs)
        curves += found
    if not curves:
        raise _unknown_keys(keys, runs)
    return curves


def summarize(curve: Curve) -> Summary:
    """First, last, min and max of ``curve`` with their iterations (min/max ignore NaN and inf)."""
    steps, values = curve.steps, curve.values
    if len(values) == 0:
        raise LogError(f"{curve.run}: '{curve.name}' has no points")
    finite = np.flatnonzero(np.isfinite(values))
    lo = int(finite[np.argmin(values[finite])]) if len(finite) else 0
    hi = int(finite[np.argmax(values[finite])]) if len(finite) else 0
    return Summary(
        float(values[0]),
        int(steps[0]),
        float(values[-1]),
        int(steps[-1]),
        float(values[lo]),
        int(steps[lo]),
        float(values[hi]),
        int(steps[hi]),
        len(values),
    )


def summary_line(curve: Curve) -> str:
    """``<run>  <name>: first v (it i), last v (it i), min v (it i), max v (it i), N points``."""
    s = summarize(curve)
    return (
        f"{curve.run}  {curve.name}: first {s.first:.4g} (it {s.first_step}), last {s.last:.4g} "
        f"(it {s.last_step}), min {s.min:.4g} (it {s.min_step}), max {s.max:.4g} (it {s.max_step}), "
        f"{s.points} point{'s' if s.points != 1 else ''}"
    )
