"""Backbones: VGG16-atrous and MobileNetV1."""

from .l2norm import L2Norm
from .mobilenet import MobileNetV1
from .vgg import VGG16Atrous
from .vgg_convert import load_torchvision_vgg16_imagenet, torchvision_ssd_backbone_to_atrous, vgg16_to_atrous

__all__ = ["L2Norm", "MobileNetV1", "VGG16Atrous", "load_torchvision_vgg16_imagenet",
           "torchvision_ssd_backbone_to_atrous", "vgg16_to_atrous"]
