"""Per-stage speed of a detector: data loading, preprocessing, backbone, neck, head, decoding, NMS, and the whole
``predict`` (``model.test_step``) on the same batches, with peak memory."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from mmengine.config import Config
from torch.utils.data import DataLoader

from ssdkit.engine import ConfigError, prepare_config
from ssdkit.models.detectors.ssd import PREDICT_STEPS, SSD
from ssdkit.structures import DetSample
from ssdkit.utils.cpu import describe_cpu

#: the model's stages, in order; their sum is compared with the whole ``predict``
STAGES = ("preprocess", *PREDICT_STEPS)
#: what each stage runs (the report's legend)
STAGE_CODE = dict(
    data="next(loader): loading, pipeline, collate",
    preprocess="model.data_preprocessor (to device, BGR->RGB, float, normalise, stack)",
    backbone="channels_last layout (when the model uses it) + model.backbone",
    neck="model.neck",
    head="model.head",
    decode="float32 head outputs, model.priors_for (cached) + model.decode",
    nms="model.postprocessor (score threshold, top-k, NMS, cap) + packing pred_instances",
    predict="model.test_step (all the model stages in one call)",
)
#: How far the stage sum may stray from the whole ``predict``: |median(sum / whole) - 1| <= 0.2. The staged pass
#: runs the same calls as ``test_step`` plus a clock read between stages (on CUDA also a synchronize), so without
#: interference the ratio is ~1. Each staged pass is paired with a whole pass on the same batch (the order
#: alternating, so neither always runs on warm caches) and the median of the per-batch ratios is taken, which a
#: burst of other work during a few passes does not move; the CPU-time ratio (one torch thread) is not moved by
#: waiting for a shared core either. The margin stays below the share of a model's largest stage, so a stage left
#: out of the sum, or a staged pass that skipped work ``test_step`` does, breaks it.
CONSISTENCY_MARGIN = 0.20


def _no_sync() -> None:
    pass


def _peak_rss_mib() -> float:
    """This process's peak resident set size so far (``getrusage``; KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def build_loader(cfg: Config, split: str = "test", batch_size: int | None = None) -> DataLoader:
    """The config's ``<split>_dataloader`` as the Runner builds it (mmengine's ``Runner.build_dataloader``), after
    ssdkit's wiring and checks (:func:`~ssdkit.engine.prepare_config`);
    ``batch_size`` overrides the loader's."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    key = f"{split}_dataloader"
    if not isinstance(cfg.get(key), dict):
        raise ConfigError(f"{cfg.filename}: the config has no {key}")
    prepare_config(cfg)
    init_default_scope(cfg.default_scope)
    loader_cfg = dict(cfg[key])
    if batch_size is not None:
        loader_cfg["batch_size"] = batch_size
    return Runner.build_dataloader(loader_cfg)


@torch.no_grad()
def staged_predict(
    model: SSD, data: dict, sync: Callable[[], None] = _no_sync, cpu: dict[str, float] | None = None
) -> tuple[list[DetSample], dict[str, float]]:
    """``model.test_step(data)`` split at the stage boundaries: the data preprocessor, then
    :meth:`SSD.predict_steps`, which ``SSD.forward`` runs too, so the same detections. Returns the samples with
    ``pred_instances`` and the seconds of each of :data:`STAGES`.

    ``data``: a collated batch (``inputs``: ``B`` uint8 ``[3, H, W]`` or ``[B, 3, H, W]``, ``data_samples``);
    ``sync`` runs before each clock read (``torch.cuda.synchronize`` on CUDA); ``cpu``, when given, receives each
    stage's CPU seconds in this thread (``time.thread_time``: with one torch thread, the stage's work alone).
    """
    seconds: dict[str, float] = {}
    cpu = {} if cpu is None else cpu
    sync()
    start, start_cpu = time.perf_counter(), time.thread_time()

    def lap(stage: str) -> None:
        nonlocal start, start_cpu
        sync()
        now, now_cpu = time.perf_counter(), time.thread_time()
        seconds[stage], start = now - start, now
        cpu[stage], start_cpu = now_cpu - start_cpu, now_cpu

    data = model.data_preprocessor(data, False)
    samples = data["data_samples"]
    lap("preprocess")
    for step in model.predict_steps(data["inputs"], samples):
        lap(step)
    return samples, seconds


def same_detections(a: Sequence[DetSample], b: Sequence[DetSample]) -> bool:
    """Whether two passes gave exactly the same boxes, scores and labels for every image."""
    return len(a) == len(b) and all(
        torch.equal(x.pred_instances.labels, y.pred_instances.labels)
        and torch.equal(x.pred_instances.scores, y.pred_instances.scores)
        and torch.equal(x.pred_instances.bboxes, y.pred_instances.bboxes)
        for x, y in zip(a, b, strict=True)
    )


@dataclass
class StageReport:
    """Seconds per timed batch for ``data``, each of :data:`STAGES` and ``predict``; images and detections
    (from the whole pass) per batch; memory in MiB (peak RSS on CPU, ``max_memory_allocated`` on CUDA)."""

    seconds: dict[str, list[float]]
    images: list[int]
    detections: list[int]
    device: str
    num_workers: int
    warmup: int
    peak_memory_mib: float
    memory_growth_mib: float
    memory_kind: str
    first_batch_equal: bool
    machine: str = field(default_factory=describe_cpu)
    #: like ``seconds`` for each of :data:`STAGES` and ``predict``, in CPU seconds of the timing thread
    cpu_seconds: dict[str, list[float]] = field(default_factory=dict)

    @property
    def num_images(self) -> int:
        return sum(self.images)

    @property
    def iters(self) -> int:
        return len(self.images)

    def ms_per_image(self, stage: str) -> float:
        """Median over batches of the stage's milliseconds per image."""
        return 1000 * statistics.median(s / n for s, n in zip(self.seconds[stage], self.images, strict=True))

    def images_per_s(self, stage: str) -> float:
        return 1000 / self.ms_per_image(stage)

    def share(self, stage: str) -> float:
        """The stage's part of the sum of the model stages' medians (``data`` is outside the sum)."""
        return self.ms_per_image(stage) / sum(self.ms_per_image(s) for s in STAGES)

    def stage_sum_ratio(self, exclude: Iterable[str] = (), clock: str = "wall") -> float:
        """Median over batches of (sum of the stages' seconds, less ``exclude``) / the whole ``predict``'s, each
        staged pass paired with the whole pass on the same batch; ``clock`` ``'wall'`` or ``'cpu'`` (the timing
        thread's CPU time, which time spent waiting for a core shared with other work does not count)."""
        times = self.cpu_seconds if clock == "cpu" else self.seconds
        stages = [s for s in STAGES if s not in set(exclude)]
        return statistics.median(sum(times[s][i] for s in stages) / times["predict"][i] for i in range(self.iters))

    def consistent(self, exclude: Iterable[str] = (), clock: str = "wall") -> bool:
        """The stage sum within :data:`CONSISTENCY_MARGIN` of the whole ``predict`` (``clock`` as above)."""
        return abs(self.stage_sum_ratio(exclude, clock) - 1) <= CONSISTENCY_MARGIN

    @property
    def detections_per_image(self) -> float:
        return sum(self.detections) / max(self.num_images, 1)


def _batches(loader: Iterable[dict]) -> Iterator[dict]:
    """The loader's batches, starting over when it ends."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ConfigError("the dataloader gives no batches: is its dataset empty?")


@dataclass
class _Pair:
    """One batch's staged and whole passes: detections, wall and CPU seconds."""

    staged: list[DetSample]
    whole: list[DetSample]
    stage_s: dict[str, float]
    stage_cpu: dict[str, float]
    whole_s: float
    whole_cpu: float


def _timed_pair(model: SSD, data: dict, sync: Callable[[], None], staged_first: bool) -> _Pair:
    """:func:`staged_predict` and ``model.test_step`` on the same batch, in the order ``staged_first`` says."""
    stage_cpu: dict[str, float] = {}
    with torch.no_grad():
        if staged_first:
            staged, stage_s = staged_predict(model, dict(data), sync, stage_cpu)
        sync()
        start, start_cpu = time.perf_counter(), time.thread_time()
        whole = model.test_step(dict(data))
        sync()
        whole_s, whole_cpu = time.perf_counter() - start, time.thread_time() - start_cpu
        if not staged_first:
            staged, stage_s = staged_predict(model, dict(data), sync, stage_cpu)
    return _Pair(staged, whole, stage_s, stage_cpu, whole_s, whole_cpu)


def _memory(device: torch.device, start: bool) -> tuple[float, str]:
    """MiB in use (``start``) or at peak, and what was measured: CUDA's allocator, or this process's peak RSS."""
    if device.type != "cuda":
        return _peak_rss_mib(), "peak RSS"
    if start:
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20, ""
    kind = f"CUDA max_memory_allocated ({torch.cuda.get_device_name(device)})"
    return torch.cuda.max_memory_allocated(device) / 2**20, kind


def time_stages(model: SSD, loader: Iterable[dict], iters: int = 20, warmup: int = 3) -> StageReport:
    """Time ``warmup + iters`` batches (the loader starts over when it ends), keeping the last ``iters``.

    Per batch: the wait for ``next(loader)``, then :func:`staged_predict` and ``model.test_step`` on the same batch
    under ``torch.no_grad()``, alternating which runs first. The first batch's staged and whole detections are
    compared (``first_batch_equal``).
    """
    if iters < 1 or warmup < 0:
        raise ValueError(f"iters={iters} must be >= 1 and warmup={warmup} >= 0")
    device = next(model.parameters()).device
    sync: Callable[[], None] = torch.cuda.synchronize if device.type == "cuda" else _no_sync
    model.eval()
    base, _ = _memory(device, start=True)
    seconds: dict[str, list[float]] = {s: [] for s in ("data", *STAGES, "predict")}
    cpu_seconds: dict[str, list[float]] = {s: [] for s in (*STAGES, "predict")}
    images: list[int] = []
    detections: list[int] = []
    first_equal = False
    batches = _batches(loader)
    for i in range(warmup + iters):
        start = time.perf_counter()
        data = next(batches)
        waited = time.perf_counter() - start
        pair = _timed_pair(model, data, sync, staged_first=i % 2 == 0)
        if i == 0:
            first_equal = same_detections(pair.staged, pair.whole)
        if i < warmup:
            continue
        seconds["data"].append(waited)
        for stage in STAGES:
            seconds[stage].append(pair.stage_s[stage])
            cpu_seconds[stage].append(pair.stage_cpu[stage])
        seconds["predict"].append(pair.whole_s)
        cpu_seconds["predict"].append(pair.whole_cpu)
        images.append(len(data["inputs"]))
        detections.append(sum(len(s.pred_instances) for s in pair.whole))
    peak, kind = _memory(device, start=False)
    return StageReport(
        seconds=seconds,
        images=images,
        detections=detections,
        device=str(device),
        num_workers=int(getattr(loader, "num_workers", 0)),
        warmup=warmup,
        peak_memory_mib=peak,
        memory_growth_mib=peak - base,
        memory_kind=kind,
        first_batch_equal=first_equal,
        cpu_seconds=cpu_seconds,
    )


def _consistency_line(report: StageReport) -> str:
    """The stage sum against the whole ``predict`` (wall clock, and CPU time when measured), and whether the
    staged detections equal ``test_step``'s."""
    ratio = report.stage_sum_ratio()
    verdict = (
        f"within the {100 * CONSISTENCY_MARGIN:.0f}% margin"
        if report.consistent()
        else f"OUTSIDE the {100 * CONSISTENCY_MARGIN:.0f}% margin: timings disturbed by other work? a quiet "
        f"machine or OMP_NUM_THREADS=1 steadies them"
    )
    cpu = f", in CPU time {report.stage_sum_ratio(clock='cpu'):.3f}" if report.cpu_seconds else ""
    return (
        f"stage sum / predict: {ratio:.3f} (median of per-batch ratios; {verdict}{cpu}); staged detections "
        f"{'equal' if report.first_batch_equal else 'DIFFER from'} test_step's on the first batch"
    )


def format_report(
    report: StageReport, title: str = "", checkpoint: str | None = None, score_thr: float | None = None
) -> str:
    """The report as text: a table of ms/image, images/s and share per stage, the stage sum against the whole
    ``predict``, detections per image, memory and the machine. ``checkpoint`` ``None``: random weights (said)."""
    lines = [title] if title else []
    lines.append(
        f"{report.iters} batches timed ({report.num_images} images, {report.num_images / report.iters:.1f} "
        f"a batch) after {report.warmup} warm-up; median per stage; {report.machine}; device {report.device}"
    )
    thr = f" (score_thr {score_thr:g})" if score_thr is not None else ""
    dets = f"{report.detections_per_image:.1f} detections per image{thr}"
    if checkpoint is None:
        lines.append(
            f"weights: random (no checkpoint). Speed does not depend on the weights, except NMS's: its load "
            f"is the boxes that pass the score threshold{thr}: {report.detections_per_image:.1f} "
            f"detections per image here"
        )
    else:
        lines.append(f"weights: {checkpoint}; {dets}")
    lines.append("")
    lines.append(f"{'stage':<12}{'ms/image':>10}{'images/s':>10}{'share':>8}  runs")
    for stage in ("data", *STAGES):
        share = "-" if stage == "data" else f"{100 * report.share(stage):.1f}%"
        lines.append(
            f"{stage:<12}{report.ms_per_image(stage):10.2f}{report.images_per_s(stage):10.1f}{share:>8}  "
            f"{STAGE_CODE[stage]}"
        )
    total = sum(report.ms_per_image(s) for s in STAGES)
    lines.append(f"{'stage sum':<12}{total:10.2f}{1000 / total:10.1f}{'100%':>8}  preprocess .. nms")
    lines.append(
        f"{'predict':<12}{report.ms_per_image('predict'):10.2f}{report.images_per_s('predict'):10.1f}"
        f"{'':>8}  {STAGE_CODE['predict']}"
    )
    lines.append("")
    lines.append(_consistency_line(report))
    workers = (
        f"with {report.num_workers} loader workers it is the wait for a ready batch, not the pipeline's "
        f"cost (num_workers=0 measures the cost)"
        if report.num_workers
        else "num_workers=0: the whole loading + pipeline + collate cost, in this process"
    )
    lines.append(
        f"data: outside the stage sum and the shares, as in real runs it overlaps the model when loader "
        f"workers run; {workers}"
    )
    lines.append(
        f"memory: {report.memory_kind} {report.peak_memory_mib:.0f} MiB "
        f"({report.memory_growth_mib:+.0f} MiB during the benchmark)"
    )
    return "\n".join(lines)
