"""The SSD algorithm as small registered components: priors, matchers, coders, losses, postprocessing."""

from .coders import SSDBoxCoder
from .losses import MultiBoxLoss
from .matchers import ArgMaxMatcher, SSDMatcher
from .postprocess import SSDPostprocessor
from .priors import SSDPriorGenerator
from .protocols import BoxCoder, Loss, Matcher, Postprocessor, PriorGenerator, SparseMatcher
from .targets import assign_targets, pad_ground_truth

__all__ = ["ArgMaxMatcher", "BoxCoder", "Loss", "Matcher", "MultiBoxLoss", "Postprocessor", "PriorGenerator",
           "SSDBoxCoder", "SSDMatcher", "SSDPostprocessor", "SSDPriorGenerator", "SparseMatcher", "assign_targets",
           "pad_ground_truth"]
