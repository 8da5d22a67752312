"""``PriorCheckHook``: the prior check logged before training's first iteration, and priors fitted when asked."""

from __future__ import annotations

import time

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ssdkit.core.priors import SSDPriorGenerator
from ssdkit.registry import HOOKS

from .objects import load_objects
from .preflight import SMALL_SIDE, PriorCheck, check_priors
from .prior_fit import PriorFit, fit_priors

#: without fitting, a coverage under this gets a warning naming ``--auto-priors``
HINT_BELOW = 0.9


@HOOKS.register_module()
class PriorCheckHook(Hook):
    """Before the first iteration: :func:`~ssdkit.analysis.preflight.check_priors` on the training set's
    annotations, logged as one block. With ``min_coverage`` (the config's ``auto_priors=dict(min_coverage=...)``,
    ``tools/train.py --auto-priors``), priors below that coverage are fitted as ``tools/analyze_priors.py --suggest``
    fits them (same levels, maps and priors per location, so the head keeps its shape) and kept only if the
    coverage rises; the fitted ``model.prior_generator`` goes into the run's config, which every checkpoint carries.

    A detector without an ``SSDPriorGenerator`` or a matcher without an IoU threshold is skipped with a log line.
    """

    priority = "VERY_HIGH"

    def __init__(self, min_coverage: float | None = None) -> None:
        if min_coverage is not None and not 0 < min_coverage <= 1:
            raise ValueError(f"PriorCheckHook: min_coverage={min_coverage}; give a share in (0, 1]")
        self.min_coverage = min_coverage

    def before_train(self, runner) -> None:
        model = getattr(runner.model, "module", runner.model)
        if not isinstance(getattr(model, "prior_generator", None), SSDPriorGenerator):
            runner.logger.info("prior check skipped: the detector has no SSDPriorGenerator")
            return
        dataset_cfg = runner.cfg.train_dataloader.dataset
        start = time.perf_counter()
        try:
            objects = load_objects(dataset_cfg.to_dict(), "train_dataloader.dataset")
            check = check_priors(model, objects)
        except (ValueError, KeyError, TypeError, FileNotFoundError) as err:  # no Resize, no objects, no threshold ...
            runner.logger.info(f"prior check skipped: {err}")
            return
        runner.logger.info(f"{check.text}\n  (annotations read and checked in {time.perf_counter() - start:.1f} s)")
        if self.min_coverage is None and check.coverage < HINT_BELOW:
            runner.logger.warning(
                f"prior check: {check.coverage:.1%} of the training objects have a prior at IoU "
                f"{check.report.threshold:g}; --auto-priors (auto_priors=dict(min_coverage={HINT_BELOW:g}) in the "
                f"config) fits the priors to them before training"
            )
        if self.min_coverage is not None and check.coverage < self.min_coverage:
            self._fit(runner, model, objects, check)

    def _fit(self, runner, model, objects, check: PriorCheck) -> None:
        fit: PriorFit = fit_priors(model.prior_generator, check.priors, objects, check.report.threshold)
        if fit.after <= fit.before:
            runner.logger.info(
                f"auto priors: coverage {fit.before:.1%} is under min_coverage {self.min_coverage:g}, but the fit "
                f"found none better ({fit.after:.1%}); the config's priors are kept"
            )
            return
        stated = runner.cfg.model.prior_generator
        snippet = fit.snippet(stated.to_dict())
        stated.update(fit.overrides(stated.to_dict()))
        model.prior_generator = fit.generator
        after = check_priors(model, objects)
        n_small, small_before = check.small_coverage()
        runner.logger.info(
            f"auto priors: coverage {fit.before:.1%} -> {fit.after:.1%} (the {n_small} objects under "
            f"{SMALL_SIDE:g} of the input side: {small_before:.1%} -> {after.small_coverage()[1]:.1%}); "
            f"model.prior_generator is now\n    {snippet}\n{after.text}"
        )
        if is_main_process():
            runner.dump_config()  # the work dir's copy of the config carries the fitted priors too
