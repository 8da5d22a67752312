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

DETECTORS = SSDRegistry("detector", parent=mm.MODELS, scope="ssdkit", locations=["ssdkit.models"])
BACKBONES = SSDRegistry("backbone", parent=mm.MODELS, scope="ssdkit_backbone", locations=["ssdkit.models"])
NECKS = SSDRegistry("neck", parent=mm.MODELS, scope="ssdkit_neck", locations=["ssdkit.models"])
HEADS = SSDRegistry("head", parent=mm.MODELS, scope="ssdkit_head", locations=["ssdkit.models"])
LOSSES = SSDRegistry("loss", parent=mm.MODELS, scope="ssdkit_loss", locations=["ssdkit.core.losses"])
PRIOR_GENERATORS = SSDRegistry(
    "prior_generator", parent=mm.TASK_UTILS, scope="ssdkit_prior_generator", locations=["ssdkit.core.priors"])
MATCHERS = SSDRegistry("matcher", parent=mm.TASK_UTILS, scope="ssdkit_matcher", locations=["ssdkit.core.matchers"])
BOX_CODERS = SSDRegistry("box_coder", parent=mm.TASK_UTILS, scope="ssdkit_box_coder", locations=["ssdkit.core.coders"])
POSTPROCESSORS = SSDRegistry(
    "postprocessor", parent=mm.TASK_UTILS, scope="ssdkit_postprocessor", locations=["ssdkit.core.postprocess"])
DATASETS = SSDRegistry("dataset", parent=mm.DATASETS, scope="ssdkit", locations=["ssdkit.data"])
TRANSFORMS = SSDRegistry("transform", parent=mm.TRANSFORMS, scope="ssdkit", locations=["ssdkit.data"])
METRICS = SSDRegistry("metric", parent=mm.METRICS, scope="ssdkit", locations=["ssdkit.evaluation"])
HOOKS = SSDRegistry("hook", parent=mm.HOOKS, scope="ssdkit", locations=["ssdkit.engine.hooks"])

ALL_REGISTRIES: dict[str, SSDRegistry] = {
    "BACKBONES": BACKBONES, "NECKS": NECKS, "HEADS": HEADS, "PRIOR_GENERATORS": PRIOR_GENERATORS,
    "MATCHERS": MATCHERS, "BOX_CODERS": BOX_CODERS, "LOSSES": LOSSES, "POSTPROCESSORS": POSTPROCESSORS,
    "DETECTORS": DETECTORS, "DATASETS": DATASETS, "TRANSFORMS": TRANSFORMS, "METRICS": METRICS, "HOOKS": HOOKS,
}

# ``ssdkit``-scoped children of mmengine's other roots, so that building loops, schedulers, optimizers,
# visualisers ... with ``default_scope='ssdkit'`` finds mmengine's entries without a warning. They are
# empty but for ssdkit's own optimizer wrapper (``BF16OptimWrapper``).
_PASSTHROUGH_LOCATIONS = {"OPTIM_WRAPPERS": ["ssdkit.engine.bf16"]}
RUNNER_FACING_PASSTHROUGH = {
    name: Registry(name.lower(), parent=getattr(mm, name), scope="ssdkit",
                   locations=_PASSTHROUGH_LOCATIONS.get(name, []))
    for name in ("RUNNERS", "RUNNER_CONSTRUCTORS", "LOOPS", "DATA_SAMPLERS", "MODEL_WRAPPERS", "WEIGHT_INITIALIZERS",
                 "OPTIMIZERS", "OPTIM_WRAPPERS", "OPTIM_WRAPPER_CONSTRUCTORS", "PARAM_SCHEDULERS", "EVALUATOR",
                 "VISUALIZERS", "VISBACKENDS", "LOG_PROCESSORS", "FUNCTIONS", "INFERENCERS", "STRATEGIES", "TASK_UTILS")
}
