"""User-facing entry points: weight conversion (inference and export arrive with later issues)."""

from .convert import COCO_CATEGORY_IDS, convert_torchvision_ssd300_vgg16, convert_torchvision_vgg16

__all__ = ["COCO_CATEGORY_IDS", "convert_torchvision_ssd300_vgg16", "convert_torchvision_vgg16"]
