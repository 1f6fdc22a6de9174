"""Attention gates for the generator's residual blocks: squeeze-excitation and spatial attention.

Both are plain ``nn.Module`` s with no data-dependent Python branching, so ONNX export and
``torch.compile`` see one static graph. ``residual_attention`` builds the gate that
:class:`~animegan.models.generator.InvertedResBlock` applies to its residual branch; its child
names (``se``, ``spatial``) are the ``state_dict`` key parts that ``attention_from_keys`` reads
back.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Literal

import torch
from torch import nn

Attention = Literal["none", "se", "spatial", "both"]
ATTENTIONS: tuple[str, ...] = ("none", "se", "spatial", "both")
SE_REDUCTION = 16
SPATIAL_KERNEL = 7


class SqueezeExcitation(nn.Module):
    """Channel gate: global average pool -> 1x1 reduce -> ReLU -> 1x1 expand -> sigmoid -> scale.

    Args:
        channels: input (and output) channels.
        reduction: bottleneck width = ``max(1, channels // reduction)``.
    """

    def __init__(self, channels: int, reduction: int = SE_REDUCTION) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.reduce = nn.Conv2d(channels, hidden, kernel_size=1, bias=True)
        self.expand = nn.Conv2d(hidden, channels, kernel_size=1, bias=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Args: features [B, C, H, W]. Returns: features scaled per channel by a (0, 1) gate."""
        pooled = features.mean(dim=(2, 3), keepdim=True)  # [B, C, 1, 1]
        gate = torch.sigmoid(self.expand(torch.relu(self.reduce(pooled))))
        return features * gate


class SpatialAttention(nn.Module):
    """Spatial gate: channel-mean and channel-max maps -> 7x7 conv -> sigmoid -> multiply.

    Args:
        kernel_size: odd conv kernel side (zero padding keeps H and W).
    """

    def __init__(self, kernel_size: int = SPATIAL_KERNEL) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size=kernel_size, padding=kernel_size // 2, bias=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Args: features [B, C, H, W]. Returns: features scaled per pixel by a (0, 1) gate."""
        maps = torch.cat(
            [features.mean(dim=1, keepdim=True), features.amax(dim=1, keepdim=True)], dim=1
        )  # [B, 2, H, W]
        return features * torch.sigmoid(self.conv(maps))


def residual_attention(attention: Attention, channels: int) -> nn.Sequential | None:
    """The gate of one residual branch, or ``None`` for ``"none"`` (no module, no keys).

    Args:
        attention: ``"none"``, ``"se"``, ``"spatial"`` or ``"both"`` (SE first, then spatial,
            as in CBAM: channel gate before spatial gate).
        channels: channels of the residual branch.

    Raises:
        ValueError: unknown ``attention``.
    """
    check_attention(attention)
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    if attention in ("se", "both"):
        parts["se"] = SqueezeExcitation(channels)
    if attention in ("spatial", "both"):
        parts["spatial"] = SpatialAttention()
    return nn.Sequential(parts) if parts else None


def check_attention(attention: str) -> None:
    """Raise ``ValueError`` unless ``attention`` is one of :data:`ATTENTIONS`."""
    if attention not in ATTENTIONS:
        raise ValueError(
            f"model.generator.attention must be one of {', '.join(ATTENTIONS)}; got {attention!r}"
        )


def attention_from_keys(keys: Iterable[str]) -> Attention:
    """The attention variant a full-generator ``state_dict`` was saved from.

    Args:
        keys: state_dict keys without prefix, e.g. ``"block_c.2.attention.se.reduce.weight"``.

    Returns:
        ``"both"``, ``"se"``, ``"spatial"`` or ``"none"``.
    """
    keys = list(keys)
    has_se = any(".attention.se." in key for key in keys)
    has_spatial = any(".attention.spatial." in key for key in keys)
    if has_se and has_spatial:
        return "both"
    return "se" if has_se else "spatial" if has_spatial else "none"
