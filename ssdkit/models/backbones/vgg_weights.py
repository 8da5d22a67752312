"""torchvision's VGG16 weights for ``VGG16Atrous``, with the input normalisation each was trained on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from torch import Tensor

from ssdkit.convert.vgg import vgg16_features_to_atrous, vgg16_to_atrous

from .torchvision_weights import fetch_torchvision_state_dict, torchvision_norm
from .weights import WeightsSource


def _torchvision_vgg16(name: str, convert: Callable[[Mapping[str, Tensor]], dict[str, Tensor]]) -> dict[str, Tensor]:
    """``VGG16_Weights.<name>`` through torchvision's own loader (the user's torch hub cache), converted."""
    tool = "vgg16_features" if name.endswith("FEATURES") else "vgg16"
    return convert(
        fetch_torchvision_state_dict(
            "vgg16",
            name,
            f"or convert a local file with `python tools/convert_torchvision.py {tool} SRC.pth DST.pth` and "
            f"set backbone.pretrained=None, backbone.init_cfg=dict(type='Pretrained', checkpoint='DST.pth') "
            f"and model.data_preprocessor to the weights' normalisation (docs/recipes.md)",
        )
    )


#: ``VGG16Atrous(pretrained=...)``: torchvision's two VGG16 weights, each with the normalisation it was trained on
#: (read from torchvision's ``VGG16_Weights.<name>.transforms()``).
VGG16_WEIGHTS: dict[str, WeightsSource] = {
    "IMAGENET1K_FEATURES": WeightsSource(
        name="IMAGENET1K_FEATURES",
        origin="torchvision VGG16_Weights.IMAGENET1K_FEATURES: the Caffe VGG16 the SSD paper starts from, as "
        "amdegroot/ssd.pytorch ported it and torchvision's ssd300_vgg16 uses it; convolutions only",
        norm=torchvision_norm("vgg16", "IMAGENET1K_FEATURES"),
        load=partial(_torchvision_vgg16, "IMAGENET1K_FEATURES", vgg16_features_to_atrous),
        fresh=("conv6", "conv7"),
    ),
    "IMAGENET1K_V1": WeightsSource(
        name="IMAGENET1K_V1",
        origin="torchvision VGG16_Weights.IMAGENET1K_V1: torchvision's own ImageNet VGG16; fc6/fc7 subsampled "
        "into conv6/conv7 as the paper does",
        norm=torchvision_norm("vgg16", "IMAGENET1K_V1"),
        load=partial(_torchvision_vgg16, "IMAGENET1K_V1", vgg16_to_atrous),
    ),
}
