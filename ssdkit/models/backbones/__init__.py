"""Backbones: VGG16-atrous, MobileNetV1, torchvision MobileNetV2/V3, any timm model, and their pretrained weights."""

from ..layers import L2Norm
from .mobilenet import MobileNetV1
from .mobilenet_timm import MOBILENETV1_WEIGHTS
from .mobilenet_tv import MobileNetV2, MobileNetV3
from .timm_backbone import TimmBackbone
from .vgg import VGG16Atrous
from .vgg_weights import VGG16_WEIGHTS
from .weights import InputNorm, WeightsSource

__all__ = [
    "VGG16_WEIGHTS",
    "InputNorm",
    "L2Norm",
    "MobileNetV1",
    "MobileNetV2",
    "MobileNetV3",
    "VGG16Atrous",
    "WeightsSource",
    "MOBILENETV1_WEIGHTS",
    "TimmBackbone",
]
