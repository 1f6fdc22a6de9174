"""The official AnimeGANv2 lite generator (``net/generator_lite.py``) as a plain ``nn.Module``.

Read against TachibanaYoshino/AnimeGANv2 ``net/generator_lite.py`` (TensorFlow 1.15). There are
no published PyTorch weights for it, so this module follows the TensorFlow graph wherever
PyTorch allows, and says where it does not:

- every conv has no bias and padding 0 after an explicit reflection pad, as the official
  ``Conv2D``: 3x3 stride 1 pads 1, 7x7 pads 3, stride 2 pads 0 top/left and 1 bottom/right,
  1x1 pads nothing;
- layer norm over (C, H, W) with per-channel affine = ``GroupNorm(1, C)``. TensorFlow's
  ``tf.contrib.layers.layer_norm`` uses eps 1e-12; we use 1e-5 like the full generator (and the
  PyTorch port of it): the two differ only for maps whose variance is below ~1e-5;
- LeakyReLU(0.2), tanh output;
- the three 2x upsamplings are ``tf.image.resize_images`` with its defaults: bilinear,
  ``align_corners=False``, ``half_pixel_centers=False`` (the legacy asymmetric mapping
  ``source = destination * in / out``). PyTorch's ``F.interpolate`` has no such mode (its
  ``align_corners=False`` is the half-pixel mapping, ``True`` a third one), so
  :func:`upsample2x_tf_legacy` computes it exactly with tensor ops. TensorFlow's graph only
  runs on sizes divisible by 8 (odd maps break its skip additions); here an odd skip size gets
  its last row/column repeated (the asymmetric mapping's own edge clamp), so any input of at
  least 16x16 comes back at its size and sizes divisible by 8 are exactly the TensorFlow math.

Layout (the official variable names in brackets; 4 residual blocks of width 128, bottleneck
32)::

    stem          CNL(3->32, k7)                          [x0]  H
    down_half     CNL(32->32, s2) . CNL(32->64)           [x1]  H/2
    down_quarter  CNL(64->64, s2) . CNL(64->128)          [x2]  H/4
    down_eighth   CNL(128->64, s2) . CNL(64->128)         [x3]  H/8
    res_blocks    4 x (CNL 1x1 128->32 . CNL 3x3 32->32 . conv 1x1 32->128) + identity
    up_quarter    2x resize . CNL(128->128); + x2; fuse_quarter CNL(128->64)   [x4]
    up_half       2x resize . CNL(64->64);   + x1; fuse_half    CNL(64->32)    [x5]
    up_full       2x resize . CNL(32->32);   + x0; fuse_full    CNL(32->32, k7) [x6]
    out_layer     conv 1x1 32->3 . tanh

(CNL = reflection pad, conv, layer norm, LeakyReLU.) 698,240 parameters, 68 state_dict
tensors; 14.3 GFLOP per 256x256 image (full generator: 2,143,552 and 52.6 GFLOP), counted
with ``torch.utils.flop_counter`` (2 FLOPs per multiply-add of the convs).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from animegan.models.generator import STRIDE2_PADDING, ConvNormLReLU
from animegan.models.init import official_generator_init_

__all__ = ["GeneratorLite", "LiteResBlock", "upsample2x_tf_legacy"]


def _double_along(features: torch.Tensor, dim: int, length: int) -> torch.Tensor:
    """TF1 legacy bilinear 2x along one axis, then repeat-or-crop to ``length``.

    With ``source = destination / 2``: even outputs are the inputs, odd outputs the mean of an
    input and its successor, and the last odd output clamps to the last input. ``length`` is
    ``2 n`` or ``2 n + 1`` (n = input length); the extra element repeats the last input.
    """
    n = features.shape[dim]
    successor = torch.cat(
        [features.narrow(dim, 1, n - 1), features.narrow(dim, n - 1, 1)], dim=dim
    )
    midpoint = 0.5 * (features + successor)
    doubled = torch.stack([features, midpoint], dim=dim + 1).flatten(dim, dim + 1)  # 2n long
    # Append the clamped edge, then keep `length`: 2n or 2n + 1 values.
    extended = torch.cat([doubled, features.narrow(dim, n - 1, 1)], dim=dim)
    return extended.narrow(dim, 0, length)


def upsample2x_tf_legacy(features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``tf.image.resize_images(x, 2 * shape)`` with TF1 defaults, fitted to a skip size.

    TF1's default resize is bilinear with ``align_corners=False`` and
    ``half_pixel_centers=False``: output pixel ``d`` samples input position ``d * in / out``
    (``d / 2`` for a 2x resize), the upper neighbour clamped to the last pixel.

    Args:
        features: [B, C, h, w].
        size: ``(H, W)`` with ``H`` in ``{2h, 2h + 1}`` and ``W`` in ``{2w, 2w + 1}`` (the
            recorded size of the skip connection this output is added to).

    Returns:
        [B, C, H, W]; for ``(H, W) == (2h, 2w)`` exactly TensorFlow's result (up to float
        rounding), an odd size repeats the last row/column.
    """
    out = _double_along(features, dim=3, length=size[1])
    return _double_along(out, dim=2, length=size[0])


class LiteResBlock(nn.Module):
    """Residual block of the lite generator: 1x1 squeeze, 3x3, 1x1 expand (linear), + input.

    The official ``resBlock``: ``CNL(C -> C/4, k1)``, ``CNL(C/4 -> C/4, k3)``, then a plain
    1x1 conv back to C (no norm, no activation) added to the input.

    Args:
        channels: input and output channels (divisible by 4).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        bottleneck = channels // 4
        self.layers = nn.Sequential(
            ConvNormLReLU(channels, bottleneck, kernel_size=1, padding=0),
            ConvNormLReLU(bottleneck, bottleneck),
            nn.Conv2d(bottleneck, channels, kernel_size=1, padding=0, bias=False),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Args: features [B, C, H, W]. Returns: [B, C, H, W]."""
        return features + self.layers(features)


class GeneratorLite(nn.Module):
    """The official AnimeGANv2 lite generator (698,240 parameters, 68 state_dict tensors).

    Three stride-2 encoder stages, four residual blocks at H/8, and three 2x upsamplings each
    followed by a conv and the addition of the encoder map of the same size (see the module
    docstring for the layer table and where it differs from TensorFlow). Input sides must be
    at least :attr:`min_side` (16) pixels; any size, odd ones included, comes back unchanged.

    Args:
        init: ``"official"`` (default, for training from scratch): the official TF
            initialisation, which ``net/generator_lite.py`` uses for every conv as the full
            generator does (:func:`animegan.models.init.official_generator_init_`);
            ``"pytorch"``: PyTorch's default conv initialisation. Irrelevant when weights are
            loaded afterwards.
    """

    #: smallest input side: the H/8 map must be >= 2 pixels for its reflection pads.
    min_side: int = 16
    #: total stride of the encoder; tiles aligned to it sample the whole image's pixel grid.
    tile_align: int = 8

    def __init__(self, init: Literal["official", "pytorch"] = "official") -> None:
        super().__init__()
        if init not in ("official", "pytorch"):
            raise ValueError(f"init must be 'official' or 'pytorch', got {init!r}")
        self.stem = ConvNormLReLU(3, 32, kernel_size=7, padding=3)
        self.down_half = nn.Sequential(
            ConvNormLReLU(32, 32, stride=2, padding=STRIDE2_PADDING),
            ConvNormLReLU(32, 64),
        )
        self.down_quarter = nn.Sequential(
            ConvNormLReLU(64, 64, stride=2, padding=STRIDE2_PADDING),
            ConvNormLReLU(64, 128),
        )
        self.down_eighth = nn.Sequential(
            ConvNormLReLU(128, 64, stride=2, padding=STRIDE2_PADDING),
            ConvNormLReLU(64, 128),
        )
        self.res_blocks = nn.Sequential(*(LiteResBlock(128) for _ in range(4)))
        self.up_quarter = ConvNormLReLU(128, 128)
        self.fuse_quarter = ConvNormLReLU(128, 64)
        self.up_half = ConvNormLReLU(64, 64)
        self.fuse_half = ConvNormLReLU(64, 32)
        self.up_full = ConvNormLReLU(32, 32)
        self.fuse_full = ConvNormLReLU(32, 32, kernel_size=7, padding=3)
        self.out_layer = nn.Sequential(
            nn.Conv2d(32, 3, kernel_size=1, stride=1, padding=0, bias=False),
            nn.Tanh(),
        )
        if init == "official":
            official_generator_init_(self)

    def forward(self, photo: torch.Tensor) -> torch.Tensor:
        """Stylise a batch of photos.

        Args:
            photo: [B, 3, H, W] RGB in [-1, 1]; H, W >= 16.

        Returns:
            fake_anime: [B, 3, H, W] RGB in [-1, 1].
        """
        full = self.stem(photo)  # [B, 32, H, W]
        half = self.down_half(full)  # [B, 64, floor(H/2), floor(W/2)]
        quarter = self.down_quarter(half)  # [B, 128, H/4, W/4] (floors)
        out = self.res_blocks(self.down_eighth(quarter))  # [B, 128, H/8, W/8]
        out = self.up_quarter(upsample2x_tf_legacy(out, quarter.shape[-2:]))
        out = self.fuse_quarter(out + quarter)  # [B, 64, H/4, W/4]
        out = self.up_half(upsample2x_tf_legacy(out, half.shape[-2:]))
        out = self.fuse_half(out + half)  # [B, 32, H/2, W/2]
        out = self.up_full(upsample2x_tf_legacy(out, full.shape[-2:]))
        out = self.fuse_full(out + full)  # [B, 32, H, W]
        return self.out_layer(out)
