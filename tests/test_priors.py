"""SSDPriorGenerator against the paper's hand-worked numbers and torchvision's DefaultBoxGenerator."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList

from ssdkit.core import SSDPriorGenerator
from ssdkit.core.priors import paper_scales
from ssdkit.registry import PRIOR_GENERATORS

from conftest import SSD300_FEATURES, SSD512_FEATURES, TV_SSD300


def test_paper_scale_rule_hand_worked():
    scales = paper_scales(6, 0.2, 0.9)
    assert scales[:6] == pytest.approx([0.2, 0.34, 0.48, 0.62, 0.76, 0.9])
    assert scales[6] == pytest.approx(1.04)
    assert paper_scales(6, 0.15, 0.9, first_scale=0.07)[:6] == pytest.approx([0.07, 0.15, 0.3375, 0.525, 0.7125, 0.9])


def test_ssd300_and_ssd512_prior_counts():
    g300 = SSDPriorGenerator()
    assert g300.num_priors_per_location == [4, 6, 6, 6, 4, 4]
    assert g300(SSD300_FEATURES, (300, 300)).shape == (8732, 4)
    g512 = PRIOR_GENERATORS.build(
        dict(type="SSDPriorGenerator", aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]])
    )
    assert g512(SSD512_FEATURES, (512, 512)).shape == (24564, 4)


@pytest.mark.parametrize("image_size", [(300, 300), (320, 480)])
def test_equals_torchvision_default_box_generator(image_size):
    tv = DefaultBoxGenerator(
        TV_SSD300["aspect_ratios"], scales=TV_SSD300["scales"], steps=TV_SSD300["steps"], clip=True
    )
    feats = [torch.zeros(1, 1, *hw) for hw in SSD300_FEATURES]
    images = ImageList(torch.zeros(1, 3, *image_size), [image_size])
    expected = tv(images, feats)[0]
    ours = SSDPriorGenerator(**TV_SSD300)(SSD300_FEATURES, image_size)
    assert ours.shape == expected.shape
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)


def test_caffe_min_max_sizes_and_order():
    g = SSDPriorGenerator(
        min_sizes=[30, 60, 111, 162, 213, 264], max_sizes=[60, 111, 162, 213, 264, 315], steps=[8, 16, 32, 64, 100, 300]
    )
    p = g(SSD300_FEATURES, (300, 300))
    assert p.shape == (8732, 4)
    w, h = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    # first location of conv4_3: 30x30, sqrt(30*60) square, then ar 2 and 1/2 around centre (4, 4)
    torch.testing.assert_close(w[:4], torch.tensor([30, math.sqrt(1800), 30 * math.sqrt(2), 30 / math.sqrt(2)]))
    torch.testing.assert_close(h[:4], torch.tensor([30, math.sqrt(1800), 30 / math.sqrt(2), 30 * math.sqrt(2)]))
    torch.testing.assert_close((p[:4, :2] + p[:4, 2:]) / 2, torch.full((4, 2), 4.0))
    # last level: one location centred at 150, largest box sqrt(264*315)
    assert float(w[-3]) == pytest.approx(math.sqrt(264 * 315), rel=1e-5)
    torch.testing.assert_close((p[-4:, :2] + p[-4:, 2:]) / 2, torch.full((4, 2), 150.0))


def test_xyxy_clip_keeps_priors_inside_image():
    p = SSDPriorGenerator(clip="xyxy")(SSD300_FEATURES, (300, 300))
    assert float(p.min()) >= 0 and float(p.max()) <= 300
    unclipped = SSDPriorGenerator()(SSD300_FEATURES, (300, 300))
    assert float(unclipped.min()) < 0


def test_cached_per_size():
    g = SSDPriorGenerator()
    assert g(SSD300_FEATURES, (300, 300)) is g(SSD300_FEATURES, (300, 300))


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match="6 levels"):
        SSDPriorGenerator()(SSD300_FEATURES[:5], (300, 300))
    with pytest.raises(ValueError, match="steps"):
        SSDPriorGenerator(steps=[8, 16])
    with pytest.raises(ValueError, match="clip"):
        SSDPriorGenerator(clip="yes")
    with pytest.raises(ValueError, match="m \\+ 1"):
        SSDPriorGenerator(scales=[0.1, 0.2])


def test_level_without_extra_square_as_caffe_priorbox_without_max_size():
    """MobileNet-SSD's conv11 PriorBox (min_size 60, no max_size, ratio 2, flip) at 19x19 on a 300 input, worked by
    hand: centre (300/19)/2, boxes 60x60, 60*sqrt2 x 60/sqrt2, 60/sqrt2 x 60*sqrt2; then conv13's 6 boxes."""
    gen = SSDPriorGenerator(
        aspect_ratios=[[2], [2, 3]], min_sizes=[60, 105], max_sizes=[None, 150], extra_square=[False, True]
    )
    assert gen.num_priors_per_location == [3, 6]
    priors = gen([(19, 19), (10, 10)], (300, 300))
    assert priors.shape == (19 * 19 * 3 + 10 * 10 * 6, 4)
    c, r = 300 / 19 / 2, math.sqrt(2)
    expected = [
        [c - 30, c - 30, c + 30, c + 30],
        [c - 30 * r, c - 30 / r, c + 30 * r, c + 30 / r],
        [c - 30 / r, c - 30 * r, c + 30 / r, c + 30 * r],
    ]
    torch.testing.assert_close(priors[:3], torch.tensor(expected))
    big = math.sqrt(105 * 150) / 2  # conv13's second box: the extra square sqrt(min * max)
    first13 = priors[19 * 19 * 3 + 1]
    torch.testing.assert_close(first13, torch.tensor([15 - big, 15 - big, 15 + big, 15 + big]))
    same = SSDPriorGenerator(aspect_ratios=[[2], [2, 3]], scales=[0.2, 0.35, 0.5], extra_square=[False, True])
    torch.testing.assert_close(same([(19, 19), (10, 10)], (300, 300)), priors)  # scales say the same
    grid = gen.grid([(19, 19), (10, 10)], (300, 300))
    assert grid.num_priors == priors.shape[0] and grid.per_cell.tolist() == [3, 3, 3, 6, 6, 6, 6, 6, 6]
    with pytest.raises(ValueError, match=r"max_sizes is None at levels \[1\]"):
        SSDPriorGenerator(
            aspect_ratios=[[2], [2]], min_sizes=[60, 105], max_sizes=[None, None], extra_square=[False, True]
        )
    with pytest.raises(ValueError, match="extra_square has 1 entries"):
        SSDPriorGenerator(aspect_ratios=[[2], [2]], extra_square=[False])


#: The configs' prior scales as they were written out by hand (the released models' sizes, ssd_pascal.py).
HAND_SCALES = {
    "ssd300_vgg16_voc0712": [0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05],
    "ssd512_vgg16_voc0712": [0.07, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05],
    "ssd300_vgg16_coco": [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
    "ssd512_vgg16_coco": [0.04, 0.1, 0.26, 0.42, 0.58, 0.74, 0.9, 1.06],
}


@pytest.mark.parametrize("name", sorted(HAND_SCALES))
def test_configs_derive_the_released_scales_exactly(name):
    """The configs state min_ratio / max_ratio / first_scale; the priors equal those of the hand-written scales."""
    from model_utils import input_size, load_config

    cfg = load_config(name)
    derived = PRIOR_GENERATORS.build(cfg.model.prior_generator)
    assert "scales" not in cfg.model.prior_generator and derived.scales == HAND_SCALES[name]
    hand_cfg = {k: v for k, v in cfg.model.prior_generator.items() if k not in ("min_ratio", "max_ratio")}
    hand = PRIOR_GENERATORS.build(dict(hand_cfg, scales=HAND_SCALES[name], first_scale=None))
    size = input_size(cfg)
    maps = SSD300_FEATURES if size == 300 else SSD512_FEATURES
    assert torch.equal(derived(maps, (size, size)), hand(maps, (size, size)))


def test_the_released_rule_by_hand_and_its_errors():
    from ssdkit.core.priors import caffe_scales

    # ssd_pascal.py, SSD300 VOC: step floor(70 / 4) = 17 percent
    assert caffe_scales(6, 20, 90, 0.1) == [0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05]
    with pytest.raises(ValueError, match="needs all three"):
        SSDPriorGenerator(min_ratio=20, max_ratio=90)
    with pytest.raises(ValueError, match="both scales=.* and min_ratio/max_ratio"):
        SSDPriorGenerator(scales=[0.1] * 7, min_ratio=20, max_ratio=90, first_scale=0.1)
