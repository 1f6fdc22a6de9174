"""Weight initialisation of the official AnimeGANv2 generator (TF 1.x), reproduced in PyTorch.

Every generator conv of the official code (TachibanaYoshino/AnimeGANv2 ``net/generator.py``,
``net/generator_lite.py``: ``Conv2D`` and ``dwise_conv``) is initialised with
``tf.contrib.layers.variance_scaling_initializer()``, whose defaults are ``factor=2.0``,
``mode='FAN_IN'``, ``uniform=False``. In TF 1.x that draws from a normal truncated at two
standard deviations with ``stddev = sqrt(1.3 * factor / n)`` (the 1.3 compensates for the
truncation), where ``n`` is the fan-in computed from the TF kernel shape ``[kh, kw, in, out]``
as ``kh * kw * in``. For the depthwise kernel ``[3, 3, C, 1]`` that is ``9 * C``, not 9: the
official depthwise weights start ``sqrt(C)`` times smaller than a per-group fan-in would give.
In PyTorch terms both cases are ``kh * kw * conv.in_channels``. The depthwise bias starts at
zero (``tf.constant_initializer(0.0)``); layer norms start at gamma 1, beta 0 (PyTorch's
default for ``GroupNorm``). The discriminator's N(0, 0.02) is set in ``discriminator.py``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# tf.contrib.layers.variance_scaling_initializer() defaults.
TF_VARIANCE_SCALING_FACTOR = 2.0
# TF 1.x: trunc_stddev = sqrt(1.3 * factor / n) for uniform=False.
TF_TRUNCATION_COMPENSATION = 1.3
# Standard deviation of a unit normal truncated to [-2, 2] (scipy.stats.truncnorm(-2, 2).std()).
TRUNCATED_NORMAL_STD_RATIO = 0.8796256610342398


def tf_fan_in(conv: nn.Conv2d) -> int:
    """Fan-in as TF 1.x computes it from the kernel shape ``[kh, kw, in, out]``.

    Args:
        conv: a (possibly depthwise) ``nn.Conv2d``.

    Returns:
        ``kh * kw * conv.in_channels`` (for a depthwise conv, ``9 * C``: TF counts the input
        channels of the kernel shape, not the inputs one output sees).
    """
    kh, kw = conv.kernel_size
    return kh * kw * conv.in_channels


def tf_truncated_stddev(fan_in: int) -> float:
    """The ``stddev`` argument TF passes to its truncated normal (before truncation).

    Args:
        fan_in: TF fan-in (``tf_fan_in``), >= 1.

    Returns:
        ``sqrt(1.3 * 2.0 / fan_in)``; the drawn weights lie in ``[-2, 2]`` times it and have a
        standard deviation of ``0.8796`` times it.
    """
    return math.sqrt(TF_TRUNCATION_COMPENSATION * TF_VARIANCE_SCALING_FACTOR / fan_in)


@torch.no_grad()
def official_generator_init_(module: nn.Module) -> nn.Module:
    """Initialise every conv of a generator as the official TF code does, in place.

    Conv weights: truncated normal (two standard deviations) with ``tf_truncated_stddev``;
    conv biases (only the depthwise convs have one): zero; ``GroupNorm``: weight 1, bias 0.
    Draws from torch's global RNG, so ``torch.manual_seed`` makes it reproducible.

    Args:
        module: the generator (or any module whose convs should be initialised).

    Returns:
        ``module``, for chaining.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            std = tf_truncated_stddev(tf_fan_in(layer))
            nn.init.trunc_normal_(layer.weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.GroupNorm) and layer.affine:
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
    return module
