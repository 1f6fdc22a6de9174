"""The official TF initialisation of the generator: per-layer std against the formula."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from animegan.models import Generator
from animegan.models.init import (
    TRUNCATED_NORMAL_STD_RATIO,
    official_generator_init_,
    tf_fan_in,
    tf_truncated_stddev,
)


def test_truncated_normal_std_ratio_is_that_of_a_two_sigma_truncation() -> None:
    # Var of N(0,1) truncated to [-a, a]: 1 - 2 a phi(a) / (2 Phi(a) - 1).
    a = 2.0
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    big_phi = 0.5 * (1 + math.erf(a / math.sqrt(2)))
    assert TRUNCATED_NORMAL_STD_RATIO == pytest.approx(
        math.sqrt(1 - 2 * a * phi / (2 * big_phi - 1)), rel=1e-12
    )


def test_fan_in_counts_tf_kernel_input_channels_for_depthwise() -> None:
    assert tf_fan_in(nn.Conv2d(32, 64, 3)) == 3 * 3 * 32
    assert tf_fan_in(nn.Conv2d(256, 256, 3, groups=256)) == 3 * 3 * 256  # TF [3, 3, C, 1]
    assert tf_truncated_stddev(9) == pytest.approx(math.sqrt(2.6 / 9))


def test_every_conv_has_the_official_std_and_truncation() -> None:
    torch.manual_seed(0)
    generator = Generator(init="official")
    convs = [(n, m) for n, m in generator.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 25  # blocks a..e: 3 + 2 + 14 + 2 + 3, out_layer: 1
    for name, conv in convs:
        weight = conv.weight.detach().double()
        trunc_std = math.sqrt(1.3 * 2.0 / (conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels))
        expected = trunc_std * TRUNCATED_NORMAL_STD_RATIO
        # Sampling error of a std estimate is about std / sqrt(2 N); allow 4 of those.
        tolerance = 4.0 / math.sqrt(2 * weight.numel())
        assert weight.std().item() == pytest.approx(expected, rel=tolerance), name
        assert weight.abs().max().item() <= 2.0 * trunc_std + 1e-7, name
        assert abs(weight.mean().item()) < 4 * expected / math.sqrt(weight.numel()), name
        if conv.bias is not None:
            assert conv.groups == conv.in_channels and torch.count_nonzero(conv.bias) == 0, name


def test_depthwise_std_is_much_smaller_than_pytorch_default() -> None:
    torch.manual_seed(0)
    official = Generator(init="official").block_c[2].layers[1][1]
    pytorch = Generator(init="pytorch").block_c[2].layers[1][1]
    assert official.groups == official.in_channels == 512
    # official: sqrt(2.6 / 4608) * 0.88 = 0.021; PyTorch (kaiming_uniform a=sqrt(5), fan_in 9): 0.19
    assert official.weight.std() < 0.2 * pytorch.weight.std()


def test_norms_start_at_identity_and_init_is_seeded() -> None:
    torch.manual_seed(3)
    first = Generator().state_dict()
    torch.manual_seed(3)
    second = official_generator_init_(Generator(init="pytorch")).state_dict()
    for key, value in first.items():
        assert torch.equal(value, second[key]), key
    norms = [m for m in Generator().modules() if isinstance(m, nn.GroupNorm)]
    assert all(torch.all(n.weight == 1) and torch.all(n.bias == 0) for n in norms)


def test_unknown_init_is_refused() -> None:
    with pytest.raises(ValueError, match="init must be"):
        Generator(init="xavier")  # type: ignore[arg-type]
