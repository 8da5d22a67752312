"""Pretrained weights as a source that carries the input normalisation its network was trained on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
        return (f"{order} 0..255 input, mean={[round(v, 3) for v in self.mean_255]}, "
                f"std={[round(v, 3) for v in self.std_255]}")


@dataclass(frozen=True)
class WeightsSource:
    """One set of pretrained backbone weights: where they come from, their normalisation, their loader.

    ``load()`` returns a state dict in the backbone's own keys (load with ``strict=False``: layers the
    source lacks keep their initialisation, listed in ``fresh``).
    """

    name: str
    origin: str
    norm: InputNorm
    load: Callable[[], dict[str, Tensor]]
    fresh: tuple[str, ...] = ()


def weights_source(backbone: str, pretrained: str | None, table: dict[str, WeightsSource]) -> WeightsSource | None:
    """The table's entry for ``pretrained`` (``None``: no weights); an unknown name lists the valid ones."""
    if pretrained is None:
        return None
    if pretrained not in table:
        raise ValueError(f"{backbone}: pretrained={pretrained!r}; valid: None, {', '.join(map(repr, table))} (for a "
                         f"local file use init_cfg=dict(type='Pretrained', checkpoint=PATH))")
    return table[pretrained]
