"""Checks run on a config before mmengine's Runner prints anything: the real error first, in one line."""

from __future__ import annotations

import difflib
import inspect
import os
from typing import Any

from mmengine.config import Config
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from ssdkit.data.datasets.coco import check_coco_records, read_coco_json
from ssdkit.registry import DATASETS, DETECTORS, METRICS


class ConfigError(ValueError):
    """A config that cannot run, with a one-line message naming the key at fault and what is valid."""


LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
#: top-level keys something reads after the config is loaded: mmengine's Runner, and ssdkit's tools
READ_AFTER_LOADING = (set(inspect.signature(Runner.__init__).parameters) - {"self"}) | {
    "model_wrapper_cfg",
    "compile",
    "strategy",
    "custom_imports",
    "sync_bn",
    "launcher",
    "input_size",
    "auto_priors",
    "prior_check",
}
LOADER_KEYS = (set(inspect.signature(DataLoader.__init__).parameters) - {"self"}) | {"num_batch_per_epoch"}


def _suggest(given: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(given, valid, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def accepted_keys(cls: type) -> set[str] | None:
    """Keyword arguments ``cls(**kw)`` accepts, following ``**kwargs`` up the base classes; ``None``: anything."""
    keys: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        keys |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return keys
    return None


def dataset_classes(ds: dict) -> tuple[str, ...] | None:
    """The class names a dataset config trains on, without building it (``None`` when unknown here)."""
    if "datasets" in ds:  # ConcatDataset
        return dataset_classes(ds["datasets"][0]) if ds["datasets"] else None
    if "dataset" in ds and isinstance(ds["dataset"], dict):  # RepeatDataset, ClassBalancedDataset
        return dataset_classes(ds["dataset"])
    stated = (ds.get("metainfo") or {}).get("classes") or ds.get("classes")
    if stated:
        return tuple(stated)
    kind = ds.get("type")
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    reader = getattr(cls, "config_classes", None)  # a dataset whose files name its classes (YOLO's data.yaml)
    if reader is not None:
        return reader(ds)
    default = (getattr(cls, "METAINFO", None) or {}).get("classes")
    if default:
        return tuple(default)
    ann = os.path.join(ds.get("data_root") or "", ds.get("ann_file") or "")
    if ds.get("ann_file") and os.path.isfile(ann):  # COCO json: its categories, sorted by id
        try:
            doc = read_coco_json(ann)
            check_coco_records(doc, ann, need_annotations=False)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        cats = doc.get("categories", [])
        return tuple(c.get("name", str(c["id"])) for c in sorted(cats, key=lambda c: c["id"]))
    return None


def wire_num_classes(cfg: Config) -> Config:
    """``model.num_classes`` from the training data's classes; a config that states another count is an error
    naming both (the val/test data must have the same classes)."""
    model = cfg.get("model") or {}
    found = {
        loader: dataset_classes(cfg[loader]["dataset"])
        for loader in LOADERS
        if isinstance(cfg.get(loader), dict) and isinstance(cfg[loader].get("dataset"), dict)
    }
    known = {k: v for k, v in found.items() if v is not None}
    detector = DETECTORS.get(model.get("type", "SSD")) if isinstance(model.get("type", "SSD"), str) else model["type"]
    if not known or detector is None or "num_classes" not in inspect.signature(detector).parameters:
        return cfg
    first, classes = next(iter(known.items()))
    for loader, other in known.items():
        if other != classes:
            raise ConfigError(
                f"{loader}.dataset has classes {list(other)} but {first}.dataset {list(classes)}; "
                f"give both datasets the same metainfo=dict(classes=...)"
            )
    stated = model.get("num_classes")
    if stated is None:
        model["num_classes"] = len(classes)
    elif stated != len(classes):
        raise ConfigError(
            f"model.num_classes={stated} but {first}.dataset has {len(classes)} classes "
            f"{list(classes)[:8]}{' ...' if len(classes) > 8 else ''}; remove model.num_classes "
            f"(ssdkit takes it from the dataset's classes) or fix the dataset's classes"
        )
    return cfg


def refuse_unread_options(cfg_before: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` that set a top-level variable nothing reads after loading (``max_iters=3`` on a
    config whose ``train_cfg.max_iters`` already took the variable's value): a :class:`ConfigError` naming the keys
    to set instead, so that no run starts with a value the user did not ask for."""
    for key in options:
        if "." in key or key in READ_AFTER_LOADING or key not in cfg_before:
            continue
        old = cfg_before[key]
        readers = [path for path, value in _leaves(cfg_before._cfg_dict, "") if value == old and path != key]
        fix = (
            f"set the keys that took its value instead: {' '.join(f'{r}=...' for r in readers[:6])}"
            if readers
            else "nothing reads it"
        )
        raise ConfigError(
            f"--cfg-options {key}=...: '{key}' is a top-level variable of the config, already substituted when "
            f"the config loaded, so it would change nothing; {fix}"
        )


def _leaves(node: Any, path: str):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in node):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, node


def _check_dataset(ds: Any, where: str, needs_pipeline: bool = True) -> None:
    if not isinstance(ds, dict):
        return
    if "type" not in ds:
        raise ConfigError(
            f"{where} has no type (keys: {', '.join(map(str, ds)) or 'none'}): a list of datasets in a child config "
            f"replaces the base config's list whole, so each entry must be complete, e.g. "
            f"datasets=[dict(d, pipeline=...) for d in _base_.voc0712_trainval]"
        )
    inherited = (
        " It looks inherited from a base config's dataset: replace the whole dataset with "
        f"{where.split('.')[0]} = dict(dataset=dict(_delete_=True, type=...))"
    )
    keys = _check_arguments(DATASETS, ds, where, {"datasets": inherited, "dataset": inherited})
    own_pipeline = keys is None or "pipeline" in keys  # a wrapper with its own pipeline (TiledDataset)
    for sub in ("datasets", "dataset"):
        if sub in ds and keys is not None and sub in keys:
            children = ds[sub] if isinstance(ds[sub], (list, tuple)) else [ds[sub]]
            for i, child in enumerate(children):
                _check_dataset(
                    child, f"{where}.{sub}" + (f"[{i}]" if sub == "datasets" else ""), needs_pipeline=not own_pipeline
                )
            if not own_pipeline:
                return
    if needs_pipeline and not ds.get("pipeline"):
        raise ConfigError(
            f"{where}.pipeline is missing or empty: a dataset needs its transforms, e.g. "
            f"pipeline={{{{_base_.train_pipeline_300}}}} (configs/_base_/datasets/ssd_pipelines.py)"
        )


def _check_arguments(registry, part: Any, where: str, hints: dict[str, str] | None = None) -> set[str] | None:
    """``part`` (a config dict with ``type``) names an entry of ``registry`` and only arguments it takes; an
    unknown key's error carries ``hints[key]``, else the closest valid name. Returns the accepted keys."""
    if not isinstance(part, dict) or "type" not in part:
        return None
    kind = part["type"]
    cls = registry.get(kind) if isinstance(kind, str) else kind
    if cls is None:
        raise ConfigError(f"{where}.type: {registry.unknown_type_error(str(kind))}")
    keys = accepted_keys(cls) if isinstance(cls, type) else None
    for key in part:
        if key not in ("type", "_scope_") and keys is not None and key not in keys:
            hint = (hints or {}).get(key) or _suggest(key, sorted(keys))
            raise ConfigError(
                f"{where}.{key}: {cls.__name__} takes no argument '{key}' (it takes {', '.join(sorted(keys))}).{hint}"
            )
    return keys


def check_config(cfg: Config) -> Any:
    """Everything that can be checked before the Runner starts: checkpoint paths, dataloader and dataset keys,
    pipelines, loop keys, and the model itself (built once, so its argument errors come first). Raises
    :class:`ConfigError`. Returns the model built (``None`` without a model config dict), for checks that need it
    (the checkpoint's fit, :func:`ssdkit.engine.runner.prepare_config`)."""

    for key in ("load_from", "resume"):
        path = cfg.get(key)
        if isinstance(path, str) and path != "auto" and not os.path.isfile(path):
            raise ConfigError(f"{key}='{path}': no such checkpoint file")
    check_loaders(cfg)
    for key, default in LOOP_DEFAULTS.items():
        _check_loop(cfg.get(key), key, default)
    for key in ("val_evaluator", "test_evaluator"):
        parts = cfg.get(key)
        for i, part in enumerate(parts if isinstance(parts, (list, tuple)) else [parts]):
            _check_arguments(METRICS, part, key if not isinstance(parts, (list, tuple)) else f"{key}[{i}]")
    return check_model(cfg)


def check_loaders(cfg: Config) -> None:
    """Every dataloader's keys and its dataset's, under wrappers: type, arguments, pipeline (:class:`ConfigError`)."""
    for loader in LOADERS:
        dl = cfg.get(loader)
        if not isinstance(dl, dict):
            continue
        for key in dl:
            if key not in LOADER_KEYS:
                raise ConfigError(
                    f"{loader}.{key}: not a dataloader setting.{_suggest(key, sorted(LOADER_KEYS))} "
                    f"Valid: {', '.join(sorted(LOADER_KEYS))}"
                )
        _check_dataset(dl.get("dataset"), f"{loader}.dataset")


#: the loop each ``*_cfg`` builds when it names no ``type`` (``train_cfg``: by ``by_epoch``)
LOOP_DEFAULTS = {"train_cfg": "IterBasedTrainLoop", "val_cfg": "ValLoop", "test_cfg": "TestLoop"}


def _check_loop(loop: Any, key: str, default: str) -> None:
    """``train_cfg`` / ``val_cfg`` / ``test_cfg`` hold only arguments of their loop (mmengine's Runner would end in
    a ``TypeError`` after printing its dump)."""
    from mmengine.registry import LOOPS

    if not isinstance(loop, dict):
        return
    kind = loop.get("type") or ("EpochBasedTrainLoop" if loop.get("by_epoch") else default)
    cls = LOOPS.get(kind) if isinstance(kind, str) else kind
    if cls is None:
        raise ConfigError(f"{key}.type: '{kind}' is not a loop mmengine knows")
    keys = accepted_keys(cls)
    if keys is None:
        return
    keys = (keys - {"runner", "dataloader", "evaluator"}) | ({"type"} if "type" in loop else {"by_epoch"})
    for name in loop:
        if name not in keys:
            raise ConfigError(
                f"{key}.{name}: {cls.__name__} takes no argument '{name}' (it takes {', '.join(sorted(keys))})."
                f"{_suggest(name, sorted(keys))}"
            )


def check_data_files(ds: Any) -> None:
    """The files a dataset config reads exist, checked by the dataset class's ``check_files`` (built without loading
    its annotations), through ``dataset`` / ``datasets`` wrappers; their own error (``FileNotFoundError``), raised
    before the Runner prints anything."""
    if not isinstance(ds, dict):
        return
    for child in ds["datasets"] if isinstance(ds.get("datasets"), (list, tuple)) else [ds.get("dataset")]:
        check_data_files(child)
    kind = ds.get("type")
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    if isinstance(cls, type) and hasattr(cls, "check_files"):
        args = {k: v for k, v in ds.items() if k not in ("type", "_scope_")}
        cls(**args, lazy_init=True).check_files()


def check_model(cfg: Config) -> Any:
    """``cfg.model``'s keys, and the model built once, so that its argument errors come first (:class:`ConfigError`).
    Returns the model (``None`` when ``cfg.model`` is not a config dict)."""
    if not isinstance(cfg.get("model"), dict):
        return None
    _check_arguments(DETECTORS, cfg.model, "model")
    try:
        return DETECTORS.build(dict(cfg.model))
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"model: {err.args[0] if err.args else err}") from err
