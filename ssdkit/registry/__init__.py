"""ssdkit registries and plugin loading."""

from .origins import origin_of
from .plugins import load_plugins
from .registry import SSDRegistry
from .root import (
    ALL_REGISTRIES,
    BACKBONES,
    BOX_CODERS,
    DATASETS,
    DETECTORS,
    HEADS,
    HOOKS,
    LOSSES,
    MATCHERS,
    METRICS,
    NECKS,
    POSTPROCESSORS,
    PRIOR_GENERATORS,
    TRANSFORMS,
)

__all__ = [
    "ALL_REGISTRIES",
    "BACKBONES",
    "BOX_CODERS",
    "DATASETS",
    "DETECTORS",
    "HEADS",
    "HOOKS",
    "LOSSES",
    "MATCHERS",
    "METRICS",
    "NECKS",
    "POSTPROCESSORS",
    "PRIOR_GENERATORS",
    "TRANSFORMS",
    "SSDRegistry",
    "load_plugins",
    "origin_of",
]
