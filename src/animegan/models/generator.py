"""AnimeGANv2 generator in the module and key layout of the animegan2-pytorch port.

The layout (and therefore every ``state_dict`` key) matches bryandlee/animegan2-pytorch, so
its published weights (``face_paint_512_v1/v2.pt``, ``celeba_distill.pt``, ``paprika.pt``)
load with ``strict=True`` and give the port's outputs. The math follows the official
TensorFlow v2 generator: reflection padding, layer norm over (C, H, W) with per-channel affine
(``GroupNorm(1, C)``), LeakyReLU(0.2), and bilinear resizes back to recorded sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from animegan.models.attention import Attention, residual_attention
from animegan.models.init import official_generator_init_

# (left, right, top, bottom): the official stride-2 convs pad like TF "SAME" on even sizes,
# i.e. nothing before and one row/column after. Changing this shifts every published weight.
STRIDE2_PADDING: tuple[int, int, int, int] = (0, 1, 0, 1)

LEAKY_SLOPE = 0.2


class ConvNormLReLU(nn.Sequential):
    """Reflection pad, conv (padding 0), layer norm, LeakyReLU(0.2).

    Children are indexed 0..3 so the keys are ``.1.weight`` (conv) and ``.2.weight/.2.bias``
    (norm), as in the port.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size.
        stride: conv stride.
        padding: reflection padding, an int for all sides or (left, right, top, bottom).
        groups: conv groups (``groups == in_channels`` for a depthwise conv).
        bias: conv bias; only the depthwise convs of the official model have one.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | tuple[int, int, int, int] = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size=kernel_size,
                stride=stride,
                padding=0,
                groups=groups,
                bias=bias,
            ),
            nn.GroupNorm(num_groups=1, num_channels=out_channels, eps=1e-5, affine=True),
            nn.LeakyReLU(LEAKY_SLOPE),
        )


class InvertedResBlock(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand, 3x3 depthwise, 1x1 project, layer norm.

    Args:
        in_channels: input channels.
        out_channels: output channels; the input is added back iff it equals ``in_channels``.
        expansion_ratio: bottleneck width = ``round(in_channels * expansion_ratio)``.
        attention: gate of the residual branch (``models/attention.py``), applied after the
            projection's layer norm and before the residual add: ``"none"`` (the published
            block: no module, no key), ``"se"``, ``"spatial"`` or ``"both"``. Only a residual
            block (``in_channels == out_channels``) takes one; see ``docs/architecture_variants.md``.
        bottleneck: explicit bottleneck width instead (a pruned block); None = from the ratio.
        residual: add the input back; None = iff ``in_channels == out_channels``.

    Raises:
        ValueError: unknown ``attention``, or an attention gate on a non-residual block.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expansion_ratio: float = 2,
        attention: Attention = "none",
        bottleneck: int | None = None,
        residual: bool | None = None,
    ) -> None:
        super().__init__()
        if bottleneck is None:
            bottleneck = int(round(in_channels * expansion_ratio))
        self.use_residual = in_channels == out_channels if residual is None else residual
        if self.use_residual and in_channels != out_channels:
            raise ValueError(f"a residual block needs in == out, got {in_channels}, {out_channels}")
        self.layers = nn.Sequential(
            ConvNormLReLU(in_channels, bottleneck, kernel_size=1, padding=0),
            ConvNormLReLU(bottleneck, bottleneck, groups=bottleneck, bias=True),
            nn.Conv2d(bottleneck, out_channels, kernel_size=1, padding=0, bias=False),
            nn.GroupNorm(num_groups=1, num_channels=out_channels, eps=1e-5, affine=True),
        )
        gate = residual_attention(attention, out_channels)
        if gate is not None and not self.use_residual:
            raise ValueError(
                f"attention={attention!r} needs a residual block; this one maps "
                f"{in_channels} -> {out_channels} channels"
            )
        # Registered after `layers` and only when used: "none" keeps the published modules,
        # keys and init RNG draws.
        self.attention = gate

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Args: features [B, in, H, W]. Returns: [B, out, H, W]."""
        out = self.layers(features)
        # attention and use_residual are fixed at construction: static branches for export/compile.
        if self.attention is not None:
            out = self.attention(out)
        if self.use_residual:
            out = out + features
        return out


class Generator(nn.Module):
    """AnimeGANv2 generator (2,143,552 parameters, 77 state_dict tensors).

    Encoder to H/4 (block_a, block_b), inverted residual bottleneck (block_c), then two bilinear
    resizes to the recorded block_a size and to the input size (block_d, block_e), so any input
    size, odd ones included, comes back unchanged. Input sides must be at least 8 pixels.

    Args:
        init: ``"official"`` (default, for training from scratch): the official TF
            initialisation (``animegan.models.init.official_generator_init_``);
            ``"pytorch"``: PyTorch's default conv initialisation. Irrelevant when weights are
            loaded afterwards.
        attention: gate on the residual branch of the three residual inverted residual blocks
            of ``block_c`` (``block_c.2`` .. ``block_c.4``): ``"none"`` (published generator,
            bit-identical), ``"se"`` (squeeze-excitation, reduction 16), ``"spatial"`` (7x7
            spatial attention) or ``"both"`` (SE then spatial).
        widths: channel widths of every layer (:class:`GeneratorWidths`); None = the published
            widths, i.e. today's layout. Narrower widths hold a pruned generator
            (``animegan.export.prune``): same keys, smaller tensors.
    """

    def __init__(
        self,
        init: Literal["official", "pytorch"] = "official",
        attention: Attention = "none",
        widths: GeneratorWidths | None = None,
    ) -> None:
        super().__init__()
        if init not in ("official", "pytorch"):
            raise ValueError(f"init must be 'official' or 'pytorch', got {init!r}")
        self.attention = attention
        w = GeneratorWidths() if widths is None else widths
        a0, a1, a2 = w.block_a
        b0, b1 = w.block_b
        x1, x2, x3, x4 = w.block_c_expand
        r = w.block_c_residual
        self.block_a = nn.Sequential(
            ConvNormLReLU(3, a0, kernel_size=7, padding=3),
            ConvNormLReLU(a0, a1, stride=2, padding=STRIDE2_PADDING),
            ConvNormLReLU(a1, a2),
        )
        self.block_b = nn.Sequential(
            ConvNormLReLU(a2, b0, stride=2, padding=STRIDE2_PADDING),
            ConvNormLReLU(b0, b1),
        )
        self.block_c = nn.Sequential(
            ConvNormLReLU(b1, w.block_c_in),
            InvertedResBlock(w.block_c_in, r, bottleneck=x1, residual=False),
            InvertedResBlock(r, r, bottleneck=x2, residual=True, attention=attention),
            InvertedResBlock(r, r, bottleneck=x3, residual=True, attention=attention),
            InvertedResBlock(r, r, bottleneck=x4, residual=True, attention=attention),
            ConvNormLReLU(r, w.block_c_out),
        )
        self.block_d = nn.Sequential(
            ConvNormLReLU(w.block_c_out, w.block_d[0]),
            ConvNormLReLU(w.block_d[0], w.block_d[1]),
        )
        self.block_e = nn.Sequential(
            ConvNormLReLU(w.block_d[1], w.block_e[0]),
            ConvNormLReLU(w.block_e[0], w.block_e[1]),
            ConvNormLReLU(w.block_e[1], w.block_e[2], kernel_size=7, padding=3),
        )
        self.out_layer = nn.Sequential(
            nn.Conv2d(w.block_e[2], 3, kernel_size=1, stride=1, padding=0, bias=False),
            nn.Tanh(),
        )
        if init == "official":
            official_generator_init_(self)

    def forward(self, photo: torch.Tensor) -> torch.Tensor:
        """Stylise a batch of photos.

        Args:
            photo: [B, 3, H, W] RGB in [-1, 1]; H, W >= 8.

        Returns:
            fake_anime: [B, 3, H, W] RGB in [-1, 1].
        """
        half = self.block_a(photo)  # [B, 64, floor(H/2), floor(W/2)]
        out = self.block_c(self.block_b(half))  # [B, 128, floor(H/4), floor(W/4)]
        # Resize to recorded sizes rather than x2 so odd sizes round-trip exactly.
        out = F.interpolate(out, size=half.shape[-2:], mode="bilinear", align_corners=True)
        out = self.block_d(out)
        out = F.interpolate(out, size=photo.shape[-2:], mode="bilinear", align_corners=True)
        out = self.block_e(out)
        return self.out_layer(out)


@dataclass(frozen=True)
class GeneratorWidths:
    """Output channels of every prunable layer of :class:`Generator` (defaults: published).

    RGB input and output (3 channels) are fixed. Inside block_c, the output of the first
    inverted residual block and every residual add share one width (``block_c_residual``).

    Attributes:
        block_a: outputs of ``block_a.0..2`` (published 32, 64, 64).
        block_b: outputs of ``block_b.0..1`` (128, 128).
        block_c_in: output of ``block_c.0`` (128).
        block_c_expand: bottleneck widths of ``block_c.1..4`` (256, 512, 512, 512).
        block_c_residual: the residual stream of ``block_c.1..4`` (256).
        block_c_out: output of ``block_c.5`` (128).
        block_d: outputs of ``block_d.0..1`` (128, 128).
        block_e: outputs of ``block_e.0..2`` (64, 64, 32).
    """

    block_a: tuple[int, int, int] = (32, 64, 64)
    block_b: tuple[int, int] = (128, 128)
    block_c_in: int = 128
    block_c_expand: tuple[int, int, int, int] = (256, 512, 512, 512)
    block_c_residual: int = 256
    block_c_out: int = 128
    block_d: tuple[int, int] = (128, 128)
    block_e: tuple[int, int, int] = (64, 64, 32)

    def __post_init__(self) -> None:
        lengths = {"block_a": 3, "block_b": 2, "block_c_expand": 4, "block_d": 2, "block_e": 3}
        for name, length in lengths.items():
            value = getattr(self, name)
            if len(value) != length:
                raise ValueError(f"GeneratorWidths.{name} needs {length} widths, got {value}")
        values = [*self.block_a, *self.block_b, self.block_c_in, *self.block_c_expand]
        values += [self.block_c_residual, self.block_c_out, *self.block_d, *self.block_e]
        if any(int(v) != v or v < 1 for v in values):
            raise ValueError(f"every generator width must be a positive int, got {self}")
