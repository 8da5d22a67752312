"""Convert a released Caffe model to an ssdkit checkpoint (no Caffe needed).

    python tools/convert_caffe.py mobilenet_ssd DEPLOY.prototxt WEIGHTS.caffemodel DST.pth

mobilenet_ssd: chuanqi305/MobileNet-SSD (VOC0712, 20 classes) for configs/ssd300_mobilenet_caffe.py; either the
trained net (deploy.prototxt + mobilenet_iter_73000.caffemodel: BatchNorm + Scale layers) or the merged one
(MobileNetSSD_deploy.prototxt + MobileNetSSD_deploy.caffemodel: BatchNorm folded into the convolutions).
"""

from __future__ import annotations

import argparse
import os

from ssdkit.engine.config import one_line_errors
from ssdkit.utils.atomic import atomic_torch_save

CONFIG = "configs/ssd300_mobilenet_caffe.py"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=["mobilenet_ssd"])
    ap.add_argument("prototxt", help="the net's text definition (.prototxt)")
    ap.add_argument("caffemodel", help="the trained weights (.caffemodel)")
    ap.add_argument("dst", help="ssdkit checkpoint to write (replaced only when the conversion succeeds)")
    args = ap.parse_args(argv)
    from ssdkit.convert.caffe import (
        CAFFE_MOBILENET_SSD_CLASSES,
        convert_caffe_mobilenet_ssd,
        detection_output_settings,
    )

    with one_line_errors(FileNotFoundError, ValueError, OSError):
        state_dict = convert_caffe_mobilenet_ssd(args.prototxt, args.caffemodel)
        post = detection_output_settings(args.prototxt)
        ckpt = dict(
            state_dict=state_dict,
            meta=dict(
                source=f"Caffe MobileNet-SSD (chuanqi305/MobileNet-SSD): "
                f"{os.path.basename(args.prototxt)} + {os.path.basename(args.caffemodel)}",
                config=CONFIG,
                classes=list(CAFFE_MOBILENET_SSD_CLASSES),
            ),
        )
        atomic_torch_save(ckpt, args.dst)
    detection = "" if post is None else "; its DetectionOutput: " + ", ".join(f"{k}={v:g}" for k, v in post.items())
    print(
        f"wrote {args.dst}: {len(state_dict)} tensors for {CONFIG} ({len(CAFFE_MOBILENET_SSD_CLASSES)} classes + "
        f"background) from {args.caffemodel}{detection}"
    )
    return ckpt
