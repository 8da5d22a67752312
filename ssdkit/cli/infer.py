"""Detect objects in images, folders or a video; write drawn images and a json of detections (README, "Train,
test, infer", gives its format). Files that are not readable images are skipped with a warning and counted.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] --out-dir D [--score-thr 0.3] [--device cpu]
                          [--tile 512 --tile-overlap 0.2] [--backend pytorch|onnxruntime|openvino|opencv]

With --backend other than pytorch, CHECKPOINT is a file made by tools/export.py; the config still gives the classes'
source and the test pipeline.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import cv2
from mmengine.config import Config

from ssdkit.apis import detect, init_detector
from ssdkit.data.video import expand_inputs, read_frames
from ssdkit.deploy.runtimes import BACKENDS
from ssdkit.engine.config import one_line_errors
from ssdkit.engine.config_bases import resolve_bases
from ssdkit.structures.records import detection_record
from ssdkit.utils.atomic import atomic_write_text
from ssdkit.visualization import draw_boxes, near_uniform, uniform_note


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("checkpoint")
    ap.add_argument("inputs", nargs="+", help="image files, folders of images, or videos")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--score-thr", type=float, default=0.3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tile", type=int, help="sliced inference for large images: tile size in pixels")
    ap.add_argument("--tile-overlap", type=float, default=0.2, help="overlap of neighbouring tiles (fraction)")
    ap.add_argument("--tile-whole", action="store_true", help="with --tile: also one whole-image pass (large objects)")
    ap.add_argument(
        "--backend",
        choices=["pytorch", *BACKENDS],
        default="pytorch",
        help="run an exported .onnx (tools/export.py) or int8 .onnx / .xml file (tools/quantize.py) on this runtime",
    )
    ap.add_argument(
        "--draw-uniform",
        action="store_true",
        help="draw detections even when every score is near uniform over the classes (an untrained model)",
    )
    return ap


def main(argv: list[str] | None = None) -> list[dict]:
    args = _parser().parse_args(argv)
    from ssdkit.engine import ConfigError

    with one_line_errors(FileNotFoundError, ValueError, ConfigError, ImportError):
        model = init_detector(
            Config.fromfile(resolve_bases(args.config)), args.checkpoint, args.device, backend=args.backend
        )
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []

    def skip(path: Path, why: str) -> None:
        skipped.append(str(path))
        warnings.warn(f"skipped '{path}': {why}", stacklevel=2)

    records, uniform = [], []
    for name, path, image in read_frames(expand_inputs(args.inputs), on_bad=skip):
        det = detect(
            model,
            [image],
            score_thr=args.score_thr,
            tile=args.tile,
            tile_overlap=args.tile_overlap,
            tile_whole=args.tile_whole,
        )[0]
        boxes, scores, labels = det["boxes"], det["scores"], det["labels"]
        names = model.dataset_meta["classes"]
        drawn = slice(None)
        if near_uniform(scores, len(names)) and not args.draw_uniform:
            uniform.append(str(path))
            drawn = slice(0)
        cv2.imwrite(
            str(out / f"{name}.jpg"),
            draw_boxes(image, boxes[drawn], labels[drawn].tolist(), names, scores[drawn].tolist()),
        )
        records.append(dict(detection_record(str(path), boxes, scores, labels, names), output=f"{name}.jpg"))
    atomic_write_text(out / "detections.json", json.dumps(records, indent=1))
    print(
        f"{len(records)} images -> {out} (drawn images and detections.json)"
        + (f"; {len(skipped)} skipped (not readable images): {', '.join(skipped[:5])}" if skipped else "")
    )
    if uniform:
        print(uniform_note(len(uniform), len(model.dataset_meta["classes"])))
    return records
