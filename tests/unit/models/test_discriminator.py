"""Discriminator layout (official D_net, ch=64, n_dis=3), spectral norm, init and shapes."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from animegan.models import Discriminator


@pytest.fixture(scope="module")
def discriminator() -> Discriminator:
    torch.manual_seed(0)
    return Discriminator()


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize(
    ("size", "expected"),
    [((64, 64), (16, 16)), ((128, 96), (32, 24)), ((65, 63), (17, 16))],  # ceil(n / 4)
)
def test_patch_logit_shape(
    discriminator: Discriminator, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    with torch.no_grad():
        logits = discriminator.eval()(torch.rand(2, 3, *size) * 2 - 1)
    assert logits.shape == (2, 1, *expected)


def test_conv_channels_strides_and_padding(discriminator: Discriminator) -> None:
    convs = _convs(discriminator)
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 32), (32, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 1),
    ]  # fmt: skip
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 1, 1]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert all(c.padding_mode == "zeros" for c in convs)


def test_layer_order_matches_official(discriminator: Discriminator) -> None:
    kinds = {nn.Conv2d: "conv", nn.GroupNorm: "ln", nn.LeakyReLU: "lrelu"}
    order = [
        kinds[type(m)] if not parametrize.is_parametrized(m) else "conv"
        for m in discriminator.layers
    ]
    assert order == [
        "conv", "lrelu",
        "conv", "lrelu", "conv", "ln", "lrelu",
        "conv", "lrelu", "conv", "ln", "lrelu",
        "conv", "ln", "lrelu",
        "conv",
    ]  # fmt: skip
    norms = [m for m in discriminator.layers if isinstance(m, nn.GroupNorm)]
    assert [(n.num_groups, n.num_channels, n.affine) for n in norms] == [
        (1, 128, True), (1, 256, True), (1, 256, True),
    ]  # fmt: skip


def test_every_conv_has_spectral_norm_and_no_bias(discriminator: Discriminator) -> None:
    convs = _convs(discriminator)
    assert len(convs) == 7
    assert all(parametrize.is_parametrized(c, "weight") for c in convs)
    assert all(c.bias is None for c in convs)


def test_spectral_norm_bounds_each_conv_near_one(discriminator: Discriminator) -> None:
    discriminator.eval()
    with torch.no_grad():
        sigmas = [
            torch.linalg.matrix_norm(c.weight.flatten(1), ord=2).item()
            for c in _convs(discriminator)
        ]
    # One power iteration per step only estimates sigma, so allow a few percent.
    assert all(0.95 < s < 1.1 for s in sigmas), sigmas


def test_spectral_norm_power_iteration_runs_in_training_only() -> None:
    torch.manual_seed(0)
    discriminator = Discriminator()
    u = discriminator.layers[0].parametrizations.weight[0]._u
    before = u.clone()
    with torch.no_grad():
        discriminator.eval()(torch.rand(1, 3, 16, 16))
        assert torch.equal(u, before)
        discriminator.train()(torch.rand(1, 3, 16, 16))
    assert not torch.equal(u, before)


def test_leaky_relu_slope(discriminator: Discriminator) -> None:
    slopes = [m.negative_slope for m in discriminator.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.2] * 6


def test_weights_init_normal_002() -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(use_spectral_norm=False)
    weight = discriminator.layers[12].weight  # 256x256x3x3: 589,824 samples
    assert abs(weight.mean().item()) < 1e-3
    assert weight.std().item() == pytest.approx(0.02, rel=0.02)


def test_without_spectral_norm_is_plain_conv() -> None:
    discriminator = Discriminator(use_spectral_norm=False, channels=8)
    convs = _convs(discriminator)
    assert not any(parametrize.is_parametrized(c) for c in convs)
    assert [c.out_channels for c in convs] == [8, 16, 32, 32, 64, 64, 1]
    assert discriminator(torch.zeros(1, 3, 32, 32)).shape == (1, 1, 8, 8)


def test_gradients_reach_input_and_original_weights(discriminator: Discriminator) -> None:
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    discriminator.train()(image).square().mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    original = discriminator.layers[0].parametrizations.weight.original
    assert original.grad is not None and original.grad.abs().sum() > 0
    discriminator.zero_grad(set_to_none=True)
