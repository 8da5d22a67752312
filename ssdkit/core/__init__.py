"""The SSD algorithm as small registered components: priors, matchers, coders, losses, postprocessing."""

from .coders import SSDBoxCoder
from .losses import MultiBoxLoss, hard_negative_mask
from .matchers import BACKGROUND, IGNORE, ArgMaxMatcher, IoUMatcher, SSDMatcher
from .postprocess import NMS_DEFAULTS, NMSSettings, SSDPostprocessor
from .priors import SSDPriorGenerator
from .protocols import BoxCoder, Loss, Matcher, Postprocessor, PriorGenerator, SparseMatcher
from .targets import assign_targets, pad_ground_truth

__all__ = [
    "BACKGROUND",
    "IGNORE",
    "ArgMaxMatcher",
    "BoxCoder",
    "IoUMatcher",
    "Loss",
    "Matcher",
    "MultiBoxLoss",
    "NMS_DEFAULTS",
    "NMSSettings",
    "Postprocessor",
    "PriorGenerator",
    "SSDBoxCoder",
    "SSDMatcher",
    "SSDPostprocessor",
    "SSDPriorGenerator",
    "SparseMatcher",
    "assign_targets",
    "hard_negative_mask",
    "pad_ground_truth",
]
