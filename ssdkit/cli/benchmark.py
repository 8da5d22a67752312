"""Per-stage speed of a config's detector on this machine: data loading, preprocessing, backbone, neck, head,
decoding, NMS and the whole predict (model.test_step), in ms per image and images/s, with peak memory.

    python tools/benchmark.py CONFIG [CHECKPOINT] [--batch N] [--iters 20] [--warmup 3] [--split val|test]
                              [--device cpu|cuda] [--cfg-options k=v ...]

Without CHECKPOINT the weights are random: speed does not depend on them, except NMS's, which depends on how many
boxes pass the score threshold (the report gives the detections per image). Data loading is timed as the wait
for the next batch and kept out of the stage sum (loader workers overlap it with the model in real runs).
Medians over the timed batches; on a machine shared with other work, figures from overlapping runs are not
comparable.
"""

from __future__ import annotations

import argparse
import os

from ssdkit.engine.config import add_config_args, load_config, one_line_errors


def main(argv: list[str] | None = None):
    """Run the benchmark and print its report; returns the :class:`ssdkit.analysis.stages.StageReport`."""
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="A config, path or data error is printed as one line; set SSDKIT_DEBUG=1 for the full traceback.",
    )
    add_config_args(ap)
    ap.add_argument("checkpoint", nargs="?", help="weights to load (default: random weights)")
    ap.add_argument("--batch", type=int, help="images per batch (default: the loader's batch_size)")
    ap.add_argument("--iters", type=int, default=20, help="timed batches (the loader starts over when it ends)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    ap.add_argument("--split", choices=["val", "test"], default="test", help="which dataloader of the config")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args(argv)

    import torch

    from ssdkit.analysis.stages import build_loader, format_report, time_stages
    from ssdkit.apis import init_detector
    from ssdkit.data import BadImageError
    from ssdkit.engine import ConfigError

    if (args.batch is not None and args.batch < 1) or args.iters < 1 or args.warmup < 0:
        raise SystemExit("error: --batch and --iters must be at least 1, --warmup at least 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda: PyTorch sees no CUDA device here")
    with one_line_errors(FileNotFoundError, ConfigError, BadImageError):
        if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
            raise FileNotFoundError(f"checkpoint '{args.checkpoint}' does not exist")
        cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
        loader = build_loader(cfg, args.split, args.batch)
        torch.manual_seed(0)  # the same random weights every run
        model = init_detector(cfg, args.checkpoint, args.device)
        report = time_stages(model, loader, args.iters, args.warmup)
    batch = args.batch or cfg[f"{args.split}_dataloader"].get("batch_size")
    title = (
        f"benchmark: {args.config}, {args.split} split, batch {batch}, "
        f"{args.device}{', checkpoint ' + args.checkpoint if args.checkpoint else ''}"
    )
    print(format_report(report, title, args.checkpoint, getattr(model.postprocessor, "score_thr", None)))
    return report
