"""Convert torchvision weights to ssdkit checkpoints.

python tools/convert_torchvision.py ssd300_vgg16 SRC.pth DST.pth   # for configs/ssd300_vgg16_coco.py
python tools/convert_torchvision.py ssdlite320_mobilenet_v3_large SRC.pth DST.pth
                                                                    # for configs/ssdlite320_mobilenetv3_coco.py
python tools/convert_torchvision.py vgg16 SRC.pth DST.pth          # VGG16Atrous from IMAGENET1K_V1
python tools/convert_torchvision.py vgg16_features SRC.pth DST.pth # VGG16Atrous convs from IMAGENET1K_FEATURES
"""

from __future__ import annotations

import argparse

from ssdkit.convert import (
    COCO_CLASSES,
    convert_torchvision_ssd300_vgg16,
    convert_torchvision_ssdlite320,
    convert_torchvision_vgg16,
    load_state_dict_file,
    vgg16_features_to_atrous,
)
from ssdkit.utils.atomic import atomic_torch_save


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=["ssd300_vgg16", "ssdlite320_mobilenet_v3_large", "vgg16", "vgg16_features"])
    ap.add_argument("src", help="torchvision state dict (.pth)")
    ap.add_argument("dst", help="ssdkit checkpoint to write")
    args = ap.parse_args(argv)
    sd = load_state_dict_file(args.src)
    ckpt: dict[str, dict]
    if args.model == "ssd300_vgg16":
        ckpt = dict(
            state_dict=convert_torchvision_ssd300_vgg16(sd),
            meta=dict(source="torchvision ssd300_vgg16", config="configs/ssd300_vgg16_coco.py", classes=COCO_CLASSES),
        )
    elif args.model == "ssdlite320_mobilenet_v3_large":
        ckpt = dict(
            state_dict=convert_torchvision_ssdlite320(sd),
            meta=dict(
                source="torchvision ssdlite320_mobilenet_v3_large",
                config="configs/ssdlite320_mobilenetv3_coco.py",
                classes=COCO_CLASSES,
            ),
        )
    elif args.model == "vgg16":
        ckpt = dict(state_dict=convert_torchvision_vgg16(sd), meta=dict(source="torchvision vgg16 IMAGENET1K_V1"))
    else:
        ckpt = dict(state_dict=vgg16_features_to_atrous(sd), meta=dict(source="torchvision vgg16 IMAGENET1K_FEATURES"))
    atomic_torch_save(ckpt, args.dst)
    print(f"wrote {args.dst}: {len(ckpt['state_dict'])} tensors ({ckpt['meta']['source']})")
