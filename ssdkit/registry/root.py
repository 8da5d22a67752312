"""Every ssdkit registry, one per kind of part.

Runner-facing kinds (detectors, datasets, transforms, metrics, hooks) are children of the matching
mmengine root registry with scope ``ssdkit``, so mmengine's Runner builds them with
``default_scope='ssdkit'``. mmengine allows one child per scope under a root, so the parts the
detector builds itself are children of mmengine's ``MODELS`` or ``TASK_UTILS`` (as in mmdetection)
with scope ``ssdkit_<kind>``.
"""

from __future__ import annotations

from mmengine import registry as mm
from mmengine.registry import Registry

from .registry import SSDRegistry

_KINDS = {  # Python name: (registry name, mmengine parent, scope, locations)
    "BACKBONES": ("backbone", mm.MODELS, "ssdkit_backbone", ["ssdkit.models"]),
    "NECKS": ("neck", mm.MODELS, "ssdkit_neck", ["ssdkit.models"]),
    "HEADS": ("head", mm.MODELS, "ssdkit_head", ["ssdkit.models"]),
    "PRIOR_GENERATORS": ("prior_generator", mm.TASK_UTILS, "ssdkit_prior_generator", ["ssdkit.core.priors"]),
    "MATCHERS": ("matcher", mm.TASK_UTILS, "ssdkit_matcher", ["ssdkit.core.matchers"]),
    "BOX_CODERS": ("box_coder", mm.TASK_UTILS, "ssdkit_box_coder", ["ssdkit.core.coders"]),
    "LOSSES": ("loss", mm.MODELS, "ssdkit_loss", ["ssdkit.core.losses"]),
    "POSTPROCESSORS": ("postprocessor", mm.TASK_UTILS, "ssdkit_postprocessor", ["ssdkit.core.postprocess"]),
    "DETECTORS": ("detector", mm.MODELS, "ssdkit", ["ssdkit.models", "ssdkit.deploy.detector"]),
    "DATASETS": ("dataset", mm.DATASETS, "ssdkit", ["ssdkit.data"]),
    "TRANSFORMS": ("transform", mm.TRANSFORMS, "ssdkit", ["ssdkit.data"]),
    "METRICS": ("metric", mm.METRICS, "ssdkit", ["ssdkit.evaluation"]),
    "HOOKS": (
        "hook",
        mm.HOOKS,
        "ssdkit",
        [
            "ssdkit.engine.hooks",
            "ssdkit.engine.checkpoint_hook",
            "ssdkit.engine.preemption",
            "ssdkit.analysis.prior_check_hook",
        ],
    ),
}
ALL_REGISTRIES: dict[str, SSDRegistry] = {
    key: SSDRegistry(name, parent=parent, scope=scope, locations=locations, display_name=key)
    for key, (name, parent, scope, locations) in _KINDS.items()
}
BACKBONES, NECKS, HEADS = ALL_REGISTRIES["BACKBONES"], ALL_REGISTRIES["NECKS"], ALL_REGISTRIES["HEADS"]
PRIOR_GENERATORS, MATCHERS = ALL_REGISTRIES["PRIOR_GENERATORS"], ALL_REGISTRIES["MATCHERS"]
BOX_CODERS, LOSSES = ALL_REGISTRIES["BOX_CODERS"], ALL_REGISTRIES["LOSSES"]
POSTPROCESSORS, DETECTORS = ALL_REGISTRIES["POSTPROCESSORS"], ALL_REGISTRIES["DETECTORS"]
DATASETS, TRANSFORMS = ALL_REGISTRIES["DATASETS"], ALL_REGISTRIES["TRANSFORMS"]
METRICS, HOOKS = ALL_REGISTRIES["METRICS"], ALL_REGISTRIES["HOOKS"]

# ``ssdkit``-scoped children of mmengine's other roots, so that building loops, schedulers, optimizers,
# visualisers ... with ``default_scope='ssdkit'`` finds mmengine's entries without a warning. They are
# empty but for ssdkit's own optimizer wrapper (``BF16OptimWrapper``).
_PASSTHROUGH_LOCATIONS = {"OPTIM_WRAPPERS": ["ssdkit.engine.bf16"]}
#: Every registry's ``locations``: the modules mmengine imports (by name) when the registry first builds, so that
#: their entries register. ``tests/test_layers.py`` checks each registering module is reached from them.
REGISTRY_LOCATIONS: dict[str, list[str]] = {key: kind[3] for key, kind in _KINDS.items()} | _PASSTHROUGH_LOCATIONS
RUNNER_FACING_PASSTHROUGH = {
    name: Registry(
        name.lower(), parent=getattr(mm, name), scope="ssdkit", locations=_PASSTHROUGH_LOCATIONS.get(name, [])
    )
    for name in (
        "RUNNERS",
        "RUNNER_CONSTRUCTORS",
        "LOOPS",
        "DATA_SAMPLERS",
        "MODEL_WRAPPERS",
        "WEIGHT_INITIALIZERS",
        "OPTIMIZERS",
        "OPTIM_WRAPPERS",
        "OPTIM_WRAPPER_CONSTRUCTORS",
        "PARAM_SCHEDULERS",
        "EVALUATOR",
        "VISUALIZERS",
        "VISBACKENDS",
        "LOG_PROCESSORS",
        "FUNCTIONS",
        "INFERENCERS",
        "STRATEGIES",
        "TASK_UTILS",
    )
}
