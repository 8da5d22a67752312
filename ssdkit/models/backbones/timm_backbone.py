"""Any timm model as an SSD backbone (``features_only``), with timm's weights and the normalisation they carry.

timm is optional (``pip install 'ssdkit[timm]'``): this module imports it only when a timm backbone or timm
weights are asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from mmengine.model import BaseModule
from torch import Tensor, nn

from ssdkit.registry import BACKBONES

from .common import FrozenStagesMixin, load_every_layer
from .weights import InputNorm, WeightsSource

#: ``TimmBackbone``'s own arguments; every other config key goes to ``timm.create_model``.
OWN_ARGS = ("type", "model_name", "out_indices", "pretrained", "weights_file", "frozen_stages", "norm_eval", "init_cfg")
DEFAULT_OUT_INDICES = (3, 4)  # stride 16 and 32 on timm's usual five levels (2, 4, 8, 16, 32)


def import_timm(who: str) -> ModuleType:
    """``timm``, or an ``ImportError`` naming ``who`` needs it and the extra that installs it."""
    try:
        import timm
    except ImportError as err:
        raise ImportError(
            f"{who} needs timm, which is not installed: pip install 'ssdkit[timm]' (or pip install timm)"
        ) from err
    return timm


def timm_pretrained_cfg(model_name: str, overlay: Mapping[str, Any] | None = None, who: str = "TimmBackbone"):
    """timm's ``PretrainedCfg`` for ``model_name`` (``'arch'`` or ``'arch.tag'``), as ``create_model`` resolves it
    (``overlay``: its ``pretrained_cfg_overlay``)."""
    timm = import_timm(who)
    arch, tag = timm.models.split_model_name_tag(model_name)
    if not timm.is_model(arch):
        raise ValueError(f"{who}: timm has no model {arch!r} (timm.list_models('*{arch[:6]}*') lists near names)")
    return timm.models.resolve_pretrained_cfg(
        arch, pretrained_cfg=tag or None, pretrained_cfg_overlay=dict(overlay or {})
    )


def timm_input_norm(pretrained_cfg) -> InputNorm:
    """timm's ``mean`` / ``std`` (RGB, on 0..1 pixels) as ssdkit's ``InputNorm``."""
    m, s = [float(v) for v in pretrained_cfg.mean], [float(v) for v in pretrained_cfg.std]
    if len(m) != 3 or len(s) != 3:
        raise ValueError(f"timm's pretrained_cfg for {pretrained_cfg.architecture}: mean {m}, std {s} are not RGB")
    return InputNorm(mean=(m[0], m[1], m[2]), std=(s[0], s[1], s[2]), pixel_scale=255.0)


def timm_weights_label(pretrained_cfg) -> str:
    """Where timm reads these weights from: ``hf-hub:<id>`` or the url."""
    return f"hf-hub:{pretrained_cfg.hf_hub_id}" if pretrained_cfg.hf_hub_id else str(pretrained_cfg.url)


def missing_weights_message(pretrained_cfg, err: BaseException, fix: str) -> str:
    """What to place where when timm cannot fetch ``pretrained_cfg``'s weights (offline, proxy, no cache)."""
    name = pretrained_cfg.architecture + (f".{pretrained_cfg.tag}" if pretrained_cfg.tag else "")
    head = f"could not load timm's weights for {name} ({type(err).__name__}: {err})."
    if pretrained_cfg.hf_hub_id:
        from huggingface_hub import constants
        from huggingface_hub.file_download import repo_folder_name

        repo = pretrained_cfg.hf_hub_id
        folder = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo, repo_type="model")
        return (
            f"{head} timm reads them from the Hugging Face hub cache, {folder} (the cache is $HF_HUB_CACHE, "
            f"else $HF_HOME/hub, else ~/.cache/huggingface/hub). On a machine with internet run "
            f"`hf download {repo} model.safetensors` (or timm.create_model('{name}', pretrained=True)) and copy "
            f"its {folder.name} folder into that cache here (with HF_HUB_OFFLINE=1 set, timm reads it without "
            f"asking the hub first); or download model.safetensors from https://huggingface.co/{repo} and {fix}"
        )
    import torch

    file = str(pretrained_cfg.url).rsplit("/", 1)[-1]
    return (
        f"{head} On an offline machine copy {file} ({pretrained_cfg.url}) into {torch.hub.get_dir()}/checkpoints, "
        f"where timm's loader reads it; or {fix}"
    )


def create_timm_model(
    model_name: str, who: str, pretrained: bool = False, file: str | None = None, **kwargs: Any
) -> nn.Module:
    """``timm.create_model(model_name, pretrained, **kwargs)``; weights from ``file`` (timm's format: a
    ``model.safetensors`` or ``.pth``) instead of the hub when given. A failed fetch names the file and the cache."""
    timm = import_timm(who)
    overlay = dict(kwargs.pop("pretrained_cfg_overlay", None) or {})
    if file is not None:
        if not Path(file).is_file():
            raise FileNotFoundError(f"{who}: weights_file={file!r} does not exist")
        overlay["file"] = str(file)
    try:
        return timm.create_model(model_name, pretrained=pretrained, pretrained_cfg_overlay=overlay or None, **kwargs)
    except Exception as err:  # offline, proxy, corrupt cache, a file of other weights: all end here
        if not pretrained:
            raise
        if file is not None:
            raise RuntimeError(
                f"{who}: timm could not load weights_file={file!r} into {model_name} ({type(err).__name__}: {err})"
            ) from err
        cfg = timm_pretrained_cfg(model_name, overlay, who)
        raise RuntimeError(missing_weights_message(cfg, err, "pass its path as backbone.weights_file=PATH")) from err


def _timm_features_state_dict(model_name: str, kwargs: Mapping[str, Any], file: str | None = None) -> dict[str, Tensor]:
    """The pretrained ``features_only`` model's state dict, in ``TimmBackbone``'s keys (``model.*``)."""
    net = create_timm_model(model_name, f"TimmBackbone({model_name!r})", pretrained=True, file=file, **kwargs)
    return {f"model.{k}": v for k, v in net.state_dict().items()}


def _frozen_modules(model: nn.Module, level_module: str) -> list[nn.Module]:
    """The modules of ``model`` that run up to the end of ``level_module`` (registration order), each whole."""
    names = [n for n, _ in model.named_modules()]
    candidates = {level_module, level_module.replace(".", "_")}  # FeatureListNet flattens 'blocks.1' to 'blocks_1'
    inside = [i for i, n in enumerate(names) if n in candidates or any(n.startswith(c + ".") for c in candidates)]
    if not inside:
        raise ValueError(f"TimmBackbone: cannot find timm's feature module {level_module!r} to freeze")
    end = inside[-1] + 1
    later = names[end:]
    mods = dict(model.named_modules())
    return [mods[n] for n in names[1:end] if not any(k.startswith(n + ".") for k in later)]


@BACKBONES.register_module()
class TimmBackbone(FrozenStagesMixin, BaseModule):
    """A timm model built with ``features_only=True``: ``forward`` returns its ``out_indices`` feature maps.

    ``out_channels`` and ``strides`` are timm's ``feature_info.channels()`` / ``.reduction()``.

    Args:
        model_name: timm's model name, optionally with a weights tag (``'efficientnet_b0.ra_in1k'``).
        out_indices: timm feature levels (0-based, in timm's ``feature_info``; usually strides 2, 4, 8, 16, 32,
            so ``(3, 4)`` gives the stride-16 and stride-32 maps).
        pretrained: ``True`` loads the weights timm's ``pretrained_cfg`` names for ``model_name`` in
            ``init_weights``, through timm's loader (the Hugging Face hub cache; a clear message when offline).
            Their normalisation (``pretrained_cfg`` mean / std, RGB) goes to the detector's data preprocessor.
        weights_file: a local copy of those weights in timm's format (``model.safetensors`` or ``.pth``), read
            instead of the hub (timm's ``pretrained_cfg_overlay=dict(file=...)``).
        frozen_stages: freeze the layers up to the end of timm's feature level ``frozen_stages - 1`` (so 1
            freezes the stride-2 level); ``-1`` or ``0``: nothing frozen.
        norm_eval: keep BatchNorm in eval mode while training.
        **model_kwargs: further ``timm.create_model`` arguments (``drop_path_rate=0.1``, ``output_stride=16``).
    """

    def __init__(
        self,
        model_name: str,
        out_indices: Sequence[int] = DEFAULT_OUT_INDICES,
        pretrained: bool = False,
        weights_file: str | None = None,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        init_cfg: dict | list | None = None,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(init_cfg)
        who = f"TimmBackbone({model_name!r})"
        if "features_only" in model_kwargs:
            raise ValueError(f"{who}: features_only is always True; remove it")
        if weights_file is not None and not pretrained:
            raise ValueError(f"{who}: weights_file={weights_file!r} is read only with pretrained=True")
        self.model_name = model_name
        self.pretrained = bool(pretrained)
        self.weights_file = weights_file
        self.weights = self.weights_for(
            dict(model_name=model_name, out_indices=tuple(out_indices), pretrained=pretrained, **model_kwargs)
        )
        self.input_norm = self.weights.norm if self.weights else None
        try:
            self.model = create_timm_model(
                model_name, who, features_only=True, out_indices=tuple(out_indices), **model_kwargs
            )
        except (IndexError, AssertionError) as err:  # timm's words for an out_index past its feature levels
            every: Any = create_timm_model(model_name, who, features_only=True, **model_kwargs).feature_info
            raise ValueError(
                f"{who}: out_indices={tuple(out_indices)}; timm's feature levels 0 .. "
                f"{len(every.info) - 1} have strides {every.reduction()} and channels "
                f"{every.channels()}"
            ) from err
        info: Any = self.model.feature_info  # timm's FeatureInfo
        self.out_channels: list[int] = list(info.channels())
        self.strides: list[int] = list(info.reduction())
        levels = len(info.info)
        if frozen_stages > levels:
            raise ValueError(f"{who}: frozen_stages={frozen_stages}, but timm lists {levels} feature levels")
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._frozen = _frozen_modules(self.model, info.info[frozen_stages - 1]["module"]) if frozen_stages > 0 else []
        self._freeze()

    @classmethod
    def weights_for(cls, cfg: Mapping[str, Any]) -> WeightsSource | None:
        """The weights a ``TimmBackbone`` config loads (``None`` without ``pretrained``), from timm's
        ``pretrained_cfg`` for its ``model_name``; ``load()`` builds the pretrained ``features_only`` model."""
        if not cfg.get("pretrained"):
            return None
        if cfg.get("pretrained") is not True:
            raise ValueError(
                f"TimmBackbone: pretrained={cfg.get('pretrained')!r}; valid: False, True (choose other "
                f"weights with a tag in model_name, e.g. 'efficientnet_b0.ra_in1k')"
            )
        if "model_name" not in cfg:
            raise ValueError("TimmBackbone: model_name is required")
        name = str(cfg["model_name"])
        kwargs = {k: v for k, v in cfg.items() if k not in OWN_ARGS}
        kwargs.update(features_only=True, out_indices=tuple(cfg.get("out_indices", DEFAULT_OUT_INDICES)))
        pcfg = timm_pretrained_cfg(name, kwargs.get("pretrained_cfg_overlay"), f"TimmBackbone({name!r})")
        if not (pcfg.hf_hub_id or pcfg.url or pcfg.file):
            raise ValueError(f"TimmBackbone: timm has no pretrained weights for {name!r}; set pretrained=False")
        load = partial(_timm_features_state_dict, name, kwargs)  # load() from the hub, load(file) from a file
        return WeightsSource(
            name=name,
            origin=f"timm {name} ({timm_weights_label(pcfg)})",
            norm=timm_input_norm(pcfg),
            load=load,
            load_file=load,
        )

    def init_weights(self) -> None:
        """Load the ``pretrained`` weights (from ``weights_file`` when given) into the whole features model."""
        super().init_weights()
        if self.weights is not None:
            assert self.weights.load_file is not None
            sd = self.weights.load_file(self.weights_file) if self.weights_file else self.weights.load()
            load_every_layer(self, sd, f"TimmBackbone({self.model_name!r}): weights {self.weights.origin}")

    def frozen_modules(self) -> list[nn.Module]:
        return self._frozen

    def forward(self, x: Tensor) -> list[Tensor]:
        """``[B, 3, H, W]`` -> the ``out_indices`` maps ``[B, out_channels[i], H / strides[i], W / strides[i]]``."""
        return list(self.model(x))
