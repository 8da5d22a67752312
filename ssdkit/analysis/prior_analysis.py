"""``tools/analyze_priors.py``'s work: a config's priors against its dataset, as numbers, pictures and a fit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmengine.config import Config

from ssdkit.engine import wire_num_classes
from ssdkit.registry import DETECTORS

from .objects import Objects, load_objects
from .prior_fit import PriorFit, fit_priors
from .priors import CoverageReport, PriorSet, coverage_report, format_report, model_prior_set

SPLITS = {"train": "train_dataloader", "val": "val_dataloader", "test": "test_dataloader"}


@dataclass
class PriorAnalysis:
    objects: Objects
    priors: PriorSet
    report: CoverageReport
    fit: PriorFit | None
    pictures: list[Path]
    text: str


def analyze_priors(
    cfg: Config,
    split: str = "train",
    out_dir: str | Path | None = None,
    suggest: bool = False,
    input_size: tuple[int, int] | None = None,
) -> PriorAnalysis:
    """Coverage of ``cfg``'s priors on the ``split`` set's objects; pictures into ``out_dir`` (when given); with
    ``suggest``, priors fitted to the objects (:func:`~ssdkit.analysis.prior_fit.fit_priors`) and a config snippet.

    The detector is built without loading pretrained weights (the priors do not depend on them).
    """
    if split not in SPLITS:
        raise ValueError(f"split {split!r}; valid: {list(SPLITS)}")
    key = SPLITS[split]
    if key not in cfg:
        raise ValueError(f"the config has no {key}, so there is no {split} set to analyse")
    wire_num_classes(cfg)
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model)
    model = DETECTORS.build(model_cfg)
    dataset_cfg = cfg[key].dataset
    objects = load_objects(
        dataset_cfg.to_dict() if hasattr(dataset_cfg, "to_dict") else dict(dataset_cfg), f"{key}.dataset", input_size
    )
    ps = model_prior_set(model, objects.input_size)
    report = coverage_report(objects, ps, model.matcher)
    h, w = objects.input_size
    text = (
        f"{len(objects)} objects in {objects.num_images} images ({split} set, {key}.dataset) against "
        f"{ps.priors.shape[0]} priors at {h}x{w} ({type(model.matcher).__name__})\n\n{format_report(report)}"
    )
    idle = report.idle_levels
    if idle:
        text += (
            f"\n\nlevels {idle} take no positives on this data: their priors never train (dead weight). Shrink "
            f"their scales, or drop the levels (neck and prior generator)"
        )
    fit = None
    if suggest:
        fit = fit_priors(model.prior_generator, ps, objects, report.threshold)
        stated = dict(model_cfg.get("prior_generator") or {})
        verdict = "better" if fit.after > fit.before else "no better priors found: keep the config's"
        options = " ".join(f'"{o}"' for o in fit.cfg_options(stated))
        text += (
            f"\n\n--suggest: coverage {fit.before:.1%} -> {fit.after:.1%} with the same levels and prior counts "
            f"({fit.evaluations} trials; {verdict}). In the config's model = dict(...):\n    "
            f"{fit.snippet(stated)}\nor, to try it first: --cfg-options {options}"
        )
    pictures = write_pictures(objects, ps, report, Path(out_dir)) if out_dir is not None else []
    if pictures:
        text += "\n\npictures: " + ", ".join(str(p) for p in pictures)
    return PriorAnalysis(objects, ps, report, fit, pictures, text)


def write_pictures(objects: Objects, ps: PriorSet, report: CoverageReport, out_dir: Path) -> list[Path]:
    """``prior_shapes.png``, ``coverage_by_size.png`` and ``positives_per_level.png`` in ``out_dir``."""
    from ssdkit.visualization.priors import plot_coverage_by_size, plot_level_positives, plot_prior_shapes

    wh = objects.boxes[:, 2:] - objects.boxes[:, :2]
    sizes = report.tables["size / input side"]
    return [
        plot_prior_shapes(wh, report.covered, ps.shapes, report.threshold, out_dir / "prior_shapes.png"),
        plot_coverage_by_size(
            [b.name for b in sizes],
            [b.coverage for b in sizes],
            [b.count for b in sizes],
            report.threshold,
            out_dir / "coverage_by_size.png",
        ),
        plot_level_positives(
            [f"{k}: {h}x{w}" for k, (h, w) in enumerate(ps.level_sizes)],
            report.level_positives,
            out_dir / "positives_per_level.png",
        ),
    ]
