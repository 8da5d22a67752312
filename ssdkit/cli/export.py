"""Export a trained detector to ONNX, with decoding and NMS inside (end2end) or raw boxes and scores (raw).

    python tools/export.py CONFIG CHECKPOINT --out model.onnx [--mode end2end|raw] [--batch N|dynamic]
                           [--opset 18] [--score-thr 0.01] [--max-per-img 200] [--input-size H W]
                           [--cfg-options k=v ...]

end2end: input 'images' uint8 [B, H, W, 3] BGR (cv2.imread + cv2.resize to the input size); outputs 'dets' [B, K, 5]
(x1, y1, x2, y2, score in input pixels), 'labels' [B, K] (0-based, -1 in padding), 'num_dets' [B].
raw: input 'images' float32 [B, 3, H, W] BGR 0..255 (cv2.dnn.blobFromImages); outputs 'boxes' [B, P, 4] (input
pixels) and 'scores' [B, P, C+1] (column 0 background): ssdkit.deploy.raw_nms.postprocess_raw does the NMS.
Scale boxes to the original image by W_original / W (x) and H_original / H (y).
"""

from __future__ import annotations

import argparse
import os

from ssdkit.engine.config import add_config_args, load_config, one_line_errors


def _batch(text: str) -> int | None:
    if text == "dynamic":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--batch {text!r}: a positive integer or 'dynamic'") from None


def load_cfg(args: argparse.Namespace):
    """The config of ``args.config`` (with ``--cfg-options``), its model checked, ``num_classes`` from the data or
    ``args.checkpoint``; a missing checkpoint is a one-line error."""
    from ssdkit.apis.inference import set_num_classes
    from ssdkit.engine import check_model

    if not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f"checkpoint '{args.checkpoint}' does not exist")
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    if cfg.model.get("num_classes") is None:
        set_num_classes(cfg, args.checkpoint)
    check_model(cfg)
    return cfg


def load_model(args: argparse.Namespace, cfg):
    """The detector of ``cfg`` with ``args.checkpoint``'s weights; one that does not fit is a one-line error."""
    from ssdkit.apis import init_detector
    from ssdkit.engine import ConfigError

    try:
        return init_detector(cfg, args.checkpoint)
    except RuntimeError as err:  # load_checkpoint(strict=True): keys or shapes that do not fit
        first = str(err).strip().splitlines()
        raise ConfigError(
            f"checkpoint '{args.checkpoint}' does not fit the config '{args.config}' (was it "
            f"trained with another config?): {' '.join(first[:4])[:600]}"
        ) from None


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(ap)
    ap.add_argument("checkpoint")
    ap.add_argument("--out", required=True, help="the .onnx file to write (replaced only when the export succeeds)")
    ap.add_argument("--mode", choices=["end2end", "raw"], default="end2end")
    ap.add_argument("--batch", type=_batch, default=1, help="a fixed batch size, or 'dynamic' (default 1)")
    ap.add_argument("--opset", type=int, default=18)
    ap.add_argument("--score-thr", type=float, help="default: the config's postprocessor (0.01)")
    ap.add_argument("--max-per-img", type=int, help="default: the config's postprocessor (200)")
    ap.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), help="default: the test pipeline's Resize")
    ap.add_argument(
        "--no-nms-prefix",
        action="store_true",
        help="end2end: NMS on all candidates at once instead of each image's best first (an If node); the same "
        "detections, slower, for tools that cannot handle If",
    )
    args = ap.parse_args(argv)
    from ssdkit.deploy.export import export_onnx, input_size_of
    from ssdkit.engine import ConfigError

    with one_line_errors(FileNotFoundError, ValueError, ConfigError, ImportError):
        cfg = load_cfg(args)
        model = load_model(args, cfg)
        size = tuple(args.input_size) if args.input_size else input_size_of(cfg)
        info = export_onnx(
            model,
            args.out,
            size,
            args.mode,
            args.batch,
            args.opset,
            args.score_thr,
            args.max_per_img,
            list(model.dataset_meta["classes"]),
            config=args.config,
            nms_prefix=not args.no_nms_prefix,
        )
    batch = "dynamic" if info.batch is None else info.batch
    print(
        f"export: {args.out} ({info.mode}, input {info.input_layout} {info.input_size[0]}x{info.input_size[1]}, "
        f"batch {batch}, {info.num_classes} classes, outputs {', '.join(info.outputs)}; score_thr "
        f"{info.score_thr:g}, max_per_img {info.max_per_img})"
    )
    return info
