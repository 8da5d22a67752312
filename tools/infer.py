"""Detect objects in images, folders or a video; write drawn images and a json of detections.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] --out-dir D [--score-thr 0.3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

from ssdkit.apis import detect, init_detector
from ssdkit.data.video import expand_inputs, read_frames
from ssdkit.utils.atomic import atomic_write_text
from ssdkit.visualization import draw_boxes


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("checkpoint")
    ap.add_argument("inputs", nargs="+", help="image files, folders of images, or videos")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--score-thr", type=float, default=0.3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    model = init_detector(args.config, args.checkpoint, args.device)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for name, image in read_frames(expand_inputs(args.inputs)):
        det = detect(model, [image])[0]
        keep = det["scores"] >= args.score_thr
        boxes, scores, labels = det["boxes"][keep], det["scores"][keep], det["labels"][keep]
        names = det["class_names"]
        cv2.imwrite(str(out / f"{name}.jpg"), draw_boxes(image, boxes, labels.tolist(), names, scores.tolist()))
        records.append(dict(image=name, detections=[
            dict(box=[round(float(v), 2) for v in b], score=round(float(s), 4), label=int(lab), name=names[int(lab)])
            for b, s, lab in zip(boxes, scores, labels)]))
    atomic_write_text(out / "detections.json", json.dumps(records, indent=1))
    print(f"{len(records)} images -> {out} (drawn images and detections.json)")


if __name__ == "__main__":
    main()
