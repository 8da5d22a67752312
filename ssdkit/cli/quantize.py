"""Int8 post-training quantization of a trained detector: the network in int8, decoding, priors and NMS float32.

    python tools/quantize.py CONFIG CHECKPOINT --out model_int8.{xml,onnx} [--backend openvino|onnxruntime]
                             [--calib 300] [--split train|val|test] [--seed 0] [--max-drop 0.01]
                             [--mode end2end|raw] [--cfg-options k=v ...]

The checkpoint is exported as tools/export.py would (fixed batch 1, --mode), then quantized on --calib images, a
random subset (--seed) of --split's dataset through the config's test pipeline, fed as the exported file's input.
.xml: OpenVINO via NNCF (--max-drop: NNCF's accuracy control keeps layers float32 until the config's metric on
the val split is within that absolute drop of float32's); .onnx: ONNX Runtime's static QDQ quantization (uint8
activations, per-channel int8 weights). Everything after the last convolution (the head's reshapes, box decoding
with the priors, scores, top-k, NMS) stays float32. The file carries the export's metadata with precision 'int8', so
tools/test.py, tools/infer.py and init_detector run it with --backend openvino / onnxruntime.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import TYPE_CHECKING

from ssdkit.engine.config import add_config_args, one_line_errors

from .export import load_cfg, load_model

if TYPE_CHECKING:
    from ssdkit.deploy.export import ExportInfo


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(ap)
    ap.add_argument("checkpoint")
    ap.add_argument("--out", required=True, help="model_int8.xml (OpenVINO, with its .bin) or model_int8.onnx")
    ap.add_argument("--backend", choices=["openvino", "onnxruntime"], help="default: from --out's suffix")
    ap.add_argument("--calib", type=int, default=300, help="calibration images (default 300)")
    ap.add_argument("--split", default="train", help="the split they come from: train (default), val or test")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random choice of calibration images")
    ap.add_argument("--max-drop", type=float, help="OpenVINO: NNCF accuracy control, absolute drop of the metric")
    ap.add_argument("--mode", choices=["end2end", "raw"], default="end2end", help="the export's mode")
    return ap


def _check(args: argparse.Namespace, cfg, backend: str) -> None:
    """What --max-drop needs: the OpenVINO backend and a val split with an evaluator."""
    from ssdkit.deploy.calibration import valid_splits

    if args.max_drop is None:
        return
    if backend != "openvino":
        raise ValueError("--max-drop: accuracy control is NNCF's, for --backend openvino (an .xml --out)")
    if not 0 < args.max_drop < 1:
        raise ValueError(f"--max-drop {args.max_drop}: an absolute drop of the metric, between 0 and 1")
    if "val" not in valid_splits(cfg) or not cfg.get("val_evaluator"):
        raise ValueError("--max-drop scores the val split: the config needs val_dataloader and val_evaluator")


def _quantize(args: argparse.Namespace, cfg, backend: str, calib, size) -> tuple[ExportInfo, list[str]]:
    """Export the float32 model to a temporary file and quantize it; ``(ExportInfo of the int8 file, the names
    of the nodes left float32)``."""
    from ssdkit.deploy import quantize as q
    from ssdkit.deploy.export import export_onnx

    model = load_model(args, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "float32.onnx")
        classes = list(model.dataset_meta["classes"])
        prefix = backend == "onnxruntime"  # NNCF 3.4 fails on the If node of the NMS prefix: all candidates there
        export_onnx(model, src, size, args.mode, batch=1, classes=classes, config=args.config, nms_prefix=prefix)
        batches = calib.batches(size, args.mode)
        record = dict(calib.describe(), backend=backend, max_drop=args.max_drop)
        info = q.int8_info(src, record)
        if backend == "onnxruntime":
            proto, kept = q.quantize_onnxruntime(src, batches)
            q.write_onnx(proto, args.out, info)
            return info, kept
        accuracy = None
        if args.max_drop is not None:
            from ssdkit.deploy.accuracy import validation

            items, validate, scores = validation(cfg, "val", src)
            accuracy = (items, validate, args.max_drop)
        ov_model, kept = q.quantize_openvino(src, batches, accuracy)
        if accuracy is not None and scores:
            info.calibration["val_metric"] = dict(float32=scores[0], int8=scores[-1])
        q.write_openvino(ov_model, args.out, info)
        return info, kept


def main(argv: list[str] | None = None):
    args = _parser().parse_args(argv)
    from ssdkit.deploy.calibration import choose
    from ssdkit.deploy.export import input_size_of
    from ssdkit.deploy.quantize import backend_for
    from ssdkit.engine import ConfigError

    with one_line_errors(FileNotFoundError, ValueError, ConfigError, ImportError):
        backend = backend_for(args.out, args.backend)
        cfg = load_cfg(args)
        _check(args, cfg, backend)
        size = input_size_of(cfg)
        calib = choose(cfg, args.split, args.calib, args.seed, size, args.mode)
        info, kept = _quantize(args, cfg, backend, calib, size)
    shown = ", ".join(kept[:6]) + (f", ... ({len(kept)} in all)" if len(kept) > 6 else "")
    print(
        f"quantize: {args.out} (int8, {backend}, {info.mode}, input {info.input_size[0]}x{info.input_size[1]}; "
        f"calibrated on {len(calib.indices)} of {len(calib.dataset)} {args.split} images, seed {args.seed}"
        + (f"; accuracy control, max drop {args.max_drop}" if args.max_drop is not None else "")
        + "".join(f"; val {k} {v:.4f}" for k, v in info.calibration.get("val_metric", {}).items())
        + f"); float32 after the network: {shown}"
    )
    return info
