"""Backbones: VGG16-atrous, MobileNetV1, torchvision MobileNetV2/V3, and the pretrained weights they load."""

from ..layers import L2Norm
from .mobilenet import MobileNetV1
from .mobilenet_tv import MobileNetV2, MobileNetV3
from .vgg import VGG16Atrous
from .vgg_convert import VGG16_WEIGHTS, torchvision_ssd_backbone_to_atrous, vgg16_features_to_atrous, vgg16_to_atrous
from .weights import InputNorm, WeightsSource

__all__ = ["VGG16_WEIGHTS", "InputNorm", "L2Norm", "MobileNetV1", "MobileNetV2", "MobileNetV3", "VGG16Atrous",
           "WeightsSource", "torchvision_ssd_backbone_to_atrous", "vgg16_features_to_atrous", "vgg16_to_atrous"]
