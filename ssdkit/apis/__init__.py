"""User-facing entry points: inference, weight conversion, model info (drawing is in ``ssdkit.visualization``)."""

from .convert import (
    COCO_CATEGORY_IDS,
    convert_torchvision_ssd300_vgg16,
    convert_torchvision_ssdlite320,
    convert_torchvision_vgg16,
)
from .convert_caffe import convert_caffe_mobilenet_ssd
from .inference import detect, init_detector

__all__ = [
    "COCO_CATEGORY_IDS",
    "convert_caffe_mobilenet_ssd",
    "convert_torchvision_ssd300_vgg16",
    "convert_torchvision_ssdlite320",
    "convert_torchvision_vgg16",
    "detect",
    "init_detector",
]
