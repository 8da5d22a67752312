# SSDLite300 on MobileNetV1 (ssdkit's own variant, no released model to reproduce): depthwise extras and heads,
# from timm's ImageNet MobileNetV1.
_base_ = [
    './_base_/models/ssdlite300_mobilenet.py',
    './_base_/datasets/voc0712.py',
    './_base_/schedules/ssd_voc_120k.py',
    './_base_/default_runtime.py',
]
