"""Pretrained weights as a source that carries the input normalisation its network was trained on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torch import Tensor


@dataclass(frozen=True)
class InputNorm:
    """What pretrained weights expect: ``(x / pixel_scale - mean) / std`` per channel, in ``rgb`` order.

    ``mean`` and ``std`` are written as the weights' source documents them: on 0..1 pixels
    (``pixel_scale=255``, torchvision's ``weights.transforms()``) or on 0..255 pixels (``pixel_scale=1``,
    Caffe's ``mean_value`` / ``scale``). :meth:`preprocessor` gives the same map on 0..255 pixels, the
    form ``ImgDataPreprocessor`` and ``Expand`` take.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pixel_scale: float = 1.0
    rgb: bool = True

    @property
    def mean_255(self) -> list[float]:
        """``[3]`` mean on 0..255 pixels, in the network's channel order."""
        return [m * self.pixel_scale for m in self.mean]

    @property
    def std_255(self) -> list[float]:
        """``[3]`` std on 0..255 pixels, in the network's channel order."""
        return [s * self.pixel_scale for s in self.std]

    def preprocessor(self) -> dict:
        """``ImgDataPreprocessor`` keys for OpenCV's BGR uint8 input."""
        return dict(mean=self.mean_255, std=self.std_255, bgr_to_rgb=self.rgb)

    def describe(self) -> str:
        order = "RGB" if self.rgb else "BGR"
        return (
            f"{order} 0..255 input, mean={[round(v, 3) for v in self.mean_255]}, "
            f"std={[round(v, 3) for v in self.std_255]}"
        )


@dataclass(frozen=True)
class WeightsSource:
    """One set of pretrained backbone weights: where they come from, their normalisation, their loader.

    ``load()`` returns a state dict in the backbone's own keys (load with ``strict=False``: layers the
    source lacks keep their initialisation, listed in ``fresh``). ``requires`` names the backbone arguments
    the weights were trained with (``activation='relu6'``); :meth:`check` refuses others. ``load_file(path)``,
    where the source has it, converts a local copy of the same weights in the source's own format.
    """

    name: str
    origin: str
    norm: InputNorm
    load: Callable[[], dict[str, Tensor]]
    fresh: tuple[str, ...] = ()
    requires: Mapping[str, object] = field(default_factory=dict, hash=False)
    load_file: Callable[[str], dict[str, Tensor]] | None = None

    def check(self, backbone: str, args: Mapping[str, object]) -> None:
        """Raise ``ValueError`` naming the weights and the fix if ``args`` differ from ``requires``."""
        wrong = {k: args[k] for k, v in self.requires.items() if k in args and args[k] != v}
        if wrong:
            want = [f"{k}={self.requires[k]!r}" for k in wrong]
            got = ", ".join(f"{k}={v!r}" for k, v in wrong.items())
            raise ValueError(
                f"{backbone}: the weights pretrained={self.name!r} ({self.origin}) were trained with "
                f"{', '.join(want)}, not {got}; set {' and '.join('backbone.' + w for w in want)}, "
                f"or backbone.pretrained=None"
            )


#: A backbone's ``WEIGHTS`` table: name -> source, or a function making it on first use (for a source whose
#: library is optional, such as timm: the table lists its names without importing the library).
WeightsTable = Mapping[str, "WeightsSource | Callable[[], WeightsSource]"]


def weights_source(backbone: str, pretrained: object, table: WeightsTable) -> WeightsSource | None:
    """The table's entry for ``pretrained`` (``None``: no weights); an unknown name lists the valid ones."""
    if pretrained is None:
        return None
    if not isinstance(pretrained, str) or pretrained not in table:
        raise ValueError(
            f"{backbone}: pretrained={pretrained!r}; valid: None, {', '.join(map(repr, table))} (for a "
            f"local file use init_cfg=dict(type='Pretrained', checkpoint=PATH))"
        )
    entry = table[pretrained]
    return entry if isinstance(entry, WeightsSource) else entry()


def weights_of(cls: type, cfg: Mapping[str, object]) -> WeightsSource | None:
    """The weights the backbone config ``cfg`` of class ``cls`` loads, without building it.

    ``cls.weights_for(cfg)`` where the class defines it (weights that depend on more than ``pretrained``,
    e.g. ``TimmBackbone``'s ``model_name``), else its ``WEIGHTS`` table at ``cfg['pretrained']``; ``None`` for
    a class with neither.
    """
    weights_for = getattr(cls, "weights_for", None)
    if weights_for is not None:
        return weights_for(cfg)
    table = getattr(cls, "WEIGHTS", None)
    if not table:
        return None
    return weights_source(cls.__name__, cfg.get("pretrained"), table)
