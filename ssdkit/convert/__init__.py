"""Weight conversion: torchvision, timm and the released Caffe MobileNet-SSD (read without Caffe) -> ssdkit keys."""

from .caffe import CaffeConversionError, convert_caffe_mobilenet_ssd, detection_output_settings
from .caffe_model import CaffeFormatError, read_caffemodel
from .prototxt import parse_prototxt
from .timm_mobilenet import timm_mobilenetv1_to_ssdkit
from .torchvision_ssd import (
    COCO_CATEGORY_IDS,
    COCO_CLASSES,
    convert_torchvision_ssd300_vgg16,
    convert_torchvision_ssdlite320,
    convert_torchvision_vgg16,
    load_state_dict_file,
)
from .vgg import torchvision_ssd_backbone_to_atrous, vgg16_features_to_atrous, vgg16_to_atrous

__all__ = [
    "COCO_CATEGORY_IDS",
    "COCO_CLASSES",
    "CaffeConversionError",
    "CaffeFormatError",
    "convert_caffe_mobilenet_ssd",
    "convert_torchvision_ssd300_vgg16",
    "convert_torchvision_ssdlite320",
    "convert_torchvision_vgg16",
    "detection_output_settings",
    "load_state_dict_file",
    "parse_prototxt",
    "read_caffemodel",
    "timm_mobilenetv1_to_ssdkit",
    "torchvision_ssd_backbone_to_atrous",
    "vgg16_features_to_atrous",
    "vgg16_to_atrous",
]
