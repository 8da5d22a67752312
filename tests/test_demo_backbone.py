"""The demo's pretrained backbone: its crops, the train-only digit pool, and the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssdkit.data.demo import backdrop, digit_pools, load_photos, render_crops, soften
from ssdkit.models.backbones.mobilenet import MobileNetV1
from ssdkit.models.backbones.mobilenet_digits import DIGITS_FILE, load_digits_weights


@pytest.fixture(scope="module")
def parts():
    from sklearn.datasets import load_digits

    return load_digits(), [soften(p, 8.0, 0.35) for p in load_photos()]


def test_crops_label_what_they_show(parts):
    digits, photos = parts
    pool = np.flatnonzero(digits.target == 7)  # only sevens: every digit crop must say 1 + 7
    imgs, labels = render_crops(np.random.default_rng(0), photos, digits.images, digits.target, pool, 300, 48)
    assert imgs.shape == (300, 48, 48, 3) and imgs.dtype == np.uint8
    assert set(np.unique(labels)) == {0, 8}
    assert 0.03 < (labels == 0).mean() < 0.2  # about 1 / 11 backdrops alone
    # a backdrop alone is exactly the photo crop the same draws give, with nothing pasted on it
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    alone, lab = render_crops(rng_a, photos, digits.images, digits.target, pool, 1, 48, background=1.0)
    rng_b.uniform()
    assert lab[0] == 0 and np.array_equal(alone[0], backdrop(rng_b, photos, (48, 48)))


def test_pretraining_draws_only_the_train_digits(monkeypatch):
    import ssdkit.engine.demo_pretrain as pre

    seen = []
    real = pre.render_crops

    def spy(rng, photos, images, targets, pool, count, size, **kw):
        seen.append(np.asarray(pool))
        return real(rng, photos, images, targets, pool, count, size, **kw)

    monkeypatch.setattr(pre, "render_crops", spy)
    opts = pre.PretrainOptions(steps=2, batch_size=4, crops=(32, 48), warmup=1)
    state = pre.pretrain_digits(opts, log=lambda s: None)
    pools = digit_pools(0)
    assert seen and all(np.array_equal(p, pools["train"]) for p in seen)
    assert not set(pools["val"]) & set(np.concatenate(seen))
    net = MobileNetV1(out_indices=(11, 13), width_mult=0.5)
    assert not net.load_state_dict(state, strict=True).missing_keys  # every backbone key, nothing else


def test_shipped_weights_load_with_their_normalisation():
    from ssdkit.models.input_norm import wire_input_norm

    assert DIGITS_FILE.stat().st_size <= 5 * 2**20
    state = load_digits_weights()
    net = MobileNetV1(out_indices=(11, 13), width_mult=0.5, pretrained="digits")
    net.init_weights()
    for key, value in state.items():
        assert torch.equal(net.state_dict()[key], value), key
    pre = wire_input_norm(None, dict(type="MobileNetV1", width_mult=0.5, pretrained="digits"))
    assert pre["mean"] == [127.5] * 3 and pre["std"] == [127.5] * 3 and pre["bgr_to_rgb"]
    with pytest.raises(ValueError, match=r"width_mult=0.5.*not width_mult=1.0"):
        MobileNetV1(pretrained="digits")


def test_shipped_weights_tell_digits_apart(parts):
    """The shipped backbone with a linear probe fitted on crops of train digits tells val digits apart."""
    digits, photos = parts
    pools = digit_pools(0)
    net = MobileNetV1(out_indices=(13,), width_mult=0.5, pretrained="digits")
    net.init_weights()
    net.eval()

    def features(pool, seed):
        imgs, labels = render_crops(
            np.random.default_rng(seed), photos, digits.images, digits.target, pool, 400, 64, background=0.0
        )
        x = (torch.from_numpy(imgs).permute(0, 3, 1, 2).flip(1).float() - 127.5) / 127.5
        with torch.no_grad():
            return net(x)[-1].mean((2, 3)), torch.from_numpy(labels - 1)

    fx, fy = features(pools["train"], 0)
    centroids = torch.stack([fx[fy == k].mean(0) for k in range(10)])
    vx, vy = features(pools["val"], 1)
    accuracy = (torch.cdist(vx, centroids).argmin(1) == vy).float().mean().item()
    assert accuracy > 0.8  # random weights: about 0.2-0.3
