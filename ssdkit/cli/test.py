"""Evaluate a checkpoint (VOC mAP or COCO AP as the config says).

    python tools/test.py CONFIG CHECKPOINT [--out dets.json] [--show-dir D] [--score-thr 0.3] [--num N]
                         [--analysis-dir D] [--analysis-score-thr 0.3] [--backend pytorch|onnxruntime|openvino|opencv]
                         [--work-dir D] [--cfg-options k=v ...] [--launcher none|pytorch]

--analysis-dir D writes per-class PR curves (pr_curves.png/.csv), a confusion matrix with background as a row and
a column (confusion_matrix.png/.csv), the highest-scoring false positives (false_positives.csv) and the missed
objects (missed.csv) into D.
--backend other than pytorch evaluates an exported file (tools/export.py) in CHECKPOINT's place, with the same data
and metrics.
"""

from __future__ import annotations

import argparse
import os
import re

from ssdkit.deploy.runtimes import BACKENDS
from ssdkit.engine.config import add_config_args, load_config, one_line_errors


def _test_sliced(cfg, args: argparse.Namespace) -> dict:
    """``--tile``: the test set's whole images, detected tile by tile, scored against their whole-image ground truth."""
    from ssdkit.apis import init_detector
    from ssdkit.apis.sliced import evaluate_sliced
    from ssdkit.engine import prepare_config

    prepare_config(cfg)
    model = init_detector(cfg, args.checkpoint, backend=args.backend)
    return evaluate_sliced(
        model, cfg.test_dataloader.dataset, cfg.test_evaluator, args.tile, args.tile_overlap, args.num
    )


def _analysis_evaluator(evaluators: list, args: argparse.Namespace) -> dict:
    """``DetectionAnalysis`` at the config's VOCMetric IoU threshold and AP mode (so its APs are the logged ones);
    IoU 0.5 and all-points AP beside any other metric (COCO)."""
    import inspect

    from ssdkit.evaluation import VOCMetric

    defaults = {k: p.default for k, p in inspect.signature(VOCMetric).parameters.items()}
    voc = next((e for e in evaluators if isinstance(e, dict) and e.get("type") in ("VOCMetric", VOCMetric)), None)
    iou, mode = (
        (0.5, "area")
        if voc is None
        else (voc.get("iou_threshold", defaults["iou_threshold"]), voc.get("mode", defaults["mode"]))
    )
    return dict(
        type="DetectionAnalysis",
        out_dir=args.analysis_dir,
        iou_threshold=iou,
        score_thr=args.analysis_score_thr,
        ap_mode=mode,
    )


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="A config, path or data error is printed as one line before testing starts; "
        "set SSDKIT_DEBUG=1 for the full traceback.",
    )
    add_config_args(ap)
    ap.add_argument(
        "--verbose",
        action="store_true",
        help="also print mmengine's environment, config and hook dump (always in the log file)",
    )
    ap.add_argument("checkpoint")
    ap.add_argument("--out", help="write the detections (json)")
    ap.add_argument("--show-dir", help="draw detections on the test images here")
    ap.add_argument("--score-thr", type=float, default=0.3, help="drawing threshold for --show-dir")
    ap.add_argument(
        "--draw-uniform",
        action="store_true",
        help="--show-dir: draw detections even when every score is near uniform over the classes (an untrained model)",
    )
    ap.add_argument("--num", type=int, help="evaluate the first N images only (a quick look)")
    ap.add_argument(
        "--tile",
        type=int,
        help="sliced inference on each whole image (tile size in pixels), scored against the whole-image ground truth",
    )
    ap.add_argument("--tile-overlap", type=float, default=0.2)
    ap.add_argument("--analysis-dir", help="write PR curves, a confusion matrix and the worst errors here")
    ap.add_argument(
        "--analysis-score-thr",
        type=float,
        default=0.3,
        help="detections counted in the confusion matrix and the missed objects (--analysis-dir)",
    )
    ap.add_argument(
        "--backend",
        choices=["pytorch", *BACKENDS],
        default="pytorch",
        help="evaluate an exported .onnx (tools/export.py) or int8 .onnx / .xml (tools/quantize.py) on this runtime",
    )
    return ap


def _wire_outputs(cfg, args: argparse.Namespace) -> None:
    """The first ``--num`` images, and the evaluators and hooks of ``--out``, ``--analysis-dir``, ``--show-dir``."""
    if args.num is not None:
        cfg.test_dataloader.dataset.indices = args.num  # mmengine's BaseDataset keeps the first N
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    if args.out:
        evaluators = [*evaluators, dict(type="DumpDetections", out_file=args.out)]
    if args.analysis_dir:
        evaluators = [*evaluators, _analysis_evaluator(evaluators, args)]
    cfg.test_evaluator = evaluators
    if args.show_dir:
        cfg.custom_hooks = [
            *cfg.get("custom_hooks", []),
            dict(
                type="DrawDetectionsHook",
                out_dir=args.show_dir,
                score_thr=args.score_thr,
                draw_uniform=args.draw_uniform,
            ),
        ]


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    from ssdkit.data import BadImageError
    from ssdkit.engine import ConfigError, adopt_trained_priors, build_runner, finish_distributed, wire_expand_fill

    with one_line_errors(FileNotFoundError, ConfigError, BadImageError, ImportError):
        if not os.path.isfile(args.checkpoint):
            raise FileNotFoundError(f"checkpoint '{args.checkpoint}' does not exist")
        cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
        cfg.verbose = args.verbose
        cfg.load_from, cfg.resume = args.checkpoint, False
        if args.backend == "pytorch":
            adopt_trained_priors(cfg, args.checkpoint)  # priors fitted before training are in the checkpoint
        else:  # the exported file takes the checkpoint's place
            wire_expand_fill(cfg)  # from the config's model, before the exported file replaces it
            cfg.model = dict(
                type="DeployedDetector",
                file=args.checkpoint,
                backend=args.backend,
                num_classes=cfg.model.get("num_classes"),
            )
            cfg.load_from = None
        _wire_outputs(cfg, args)
        if args.tile:
            metrics = _test_sliced(cfg, args)
        else:
            metrics = build_runner(cfg, data_of=("test_dataloader",)).test()
        finish_distributed()
    summary = ", ".join(
        f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float) and not re.search(r"/AP\d+_", k)
    )  # per-class APs are in the log
    print(f"test: {summary} ({args.checkpoint})")
    if args.analysis_dir:
        from ssdkit.evaluation.analysis import FILES

        print(f"analysis: {os.path.abspath(args.analysis_dir)}/ ({', '.join(FILES)})")
    return metrics
