"""A generator whose layer norms can use statistics computed elsewhere (tile-consistent tiling).

The AnimeGANv2 generator normalises every feature map over (C, H, W) (``GroupNorm(1, C)``), so
each tile of a large image would otherwise be normalised by its own statistics: a tile of sky
and a tile of street get different brightness and contrast, and blending only hides that inside
the overlap. Measured here (random weights, a 384x288 photo, 128-pixel tiles): per-tile norms
put the tiled output 15 uint8 levels (mean) off the whole-image output; the same tiles using the
whole image's statistics are 0.6 levels off.

:class:`NormStatsGenerator` wraps a :class:`~animegan.models.Generator` without copying its
forward: each ``GroupNorm`` is swapped for a :class:`StatsGroupNorm` that shares its affine
parameters, reports the statistics it computed, and blends them with externally supplied ones by
a mixing weight (0 = own statistics, exactly the plain generator; 1 = external). Mixing instead
of an ``if`` keeps ``forward`` free of data-dependent branches, so one ONNX graph serves both
the whole-image pass and the tile pass.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["NormStatsGenerator", "StatsGroupNorm", "count_layer_norms"]


class _StatsBus:
    """Per-call side channel between the wrapper and its norm layers.

    Holds the external statistics and mixing weight of the current call and collects the
    statistics each layer computed. It lives outside the module tree on purpose (never in a
    ``state_dict``); tracing sees only tensor operations.
    """

    def __init__(self, num_layers: int) -> None:
        self.num_layers = num_layers
        self.external: torch.Tensor | None = None  # [B or 1, L, 2]
        self.mix: torch.Tensor | None = None  # [1]
        self.recorded: list[torch.Tensor | None] = [None] * num_layers


class StatsGroupNorm(nn.Module):
    """``GroupNorm(1, C)`` whose (mean, variance) can be mixed with external values.

    Args:
        norm: the layer to replace; its ``weight``/``bias`` are shared, not copied.
        index: position of this layer in the generator's norm order (0-based).
        bus: side channel shared by all layers of one :class:`NormStatsGenerator`.
    """

    def __init__(self, norm: nn.GroupNorm, index: int, bus: _StatsBus) -> None:
        super().__init__()
        if norm.num_groups != 1 or not norm.affine:
            raise ValueError("StatsGroupNorm replaces GroupNorm(1, C, affine=True) only")
        self.weight = norm.weight
        self.bias = norm.bias
        self.eps = norm.eps
        self.index = index
        # A plain attribute, not a submodule: nn.Module would otherwise try to register it.
        object.__setattr__(self, "_bus", bus)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Args: features [B, C, H, W]. Returns: normalised features [B, C, H, W]."""
        bus: _StatsBus = self._bus  # type: ignore[assignment]
        # Two-level means (along each row, then over rows and channels) of x and x^2:
        # onnxruntime sums a whole-map reduction (and its own InstanceNormalization) naively in
        # fp32, which put its 512^2 outputs 4e-4 off fp64; row sums keep it near PyTorch's
        # 1e-5. ReduceMean over rows is the fast reduction there (ReduceL2/ReduceSumSquare
        # were 2-3x slower than x*x followed by ReduceMean). Cancellation in E[x^2] - E[x]^2 is
        # harmless: mean^2/var stays below ~0.2 on these conv outputs.
        mean = features.mean(dim=3).mean(dim=(1, 2))  # [B]
        mean_sq = (features * features).mean(dim=3).mean(dim=(1, 2))  # [B]
        var = (mean_sq - mean.square()).clamp_min(0.0)  # [B], biased
        bus.recorded[self.index] = torch.stack([mean, var], dim=-1)  # [B, 2]
        external = bus.external[:, self.index]  # [B or 1, 2]
        mix = bus.mix
        mean = mix * external[:, 0] + (1 - mix) * mean
        var = mix * external[:, 1] + (1 - mix) * var
        # Fold the normalisation and the per-channel affine into one scale and shift per
        # (sample, channel): two passes over the feature map instead of four.
        scale = self.weight[None, :] * torch.rsqrt(var + self.eps)[:, None]  # [B, C]
        shift = self.bias[None, :] - mean[:, None] * scale  # [B, C]
        return features * scale[:, :, None, None] + shift[:, :, None, None]


def count_layer_norms(module: nn.Module) -> int:
    """Number of ``GroupNorm`` layers in ``module`` (24 for the AnimeGANv2 generator)."""
    return sum(isinstance(m, nn.GroupNorm) for m in module.modules())


def _replace_norms(module: nn.Module, bus: _StatsBus, start: int = 0) -> int:
    index = start
    for name, child in module.named_children():
        if isinstance(child, nn.GroupNorm):
            setattr(module, name, StatsGroupNorm(child, index, bus))
            index += 1
        else:
            index = _replace_norms(child, bus, index)
    return index


class NormStatsGenerator(nn.Module):
    """Generator that also returns its layer-norm statistics and can be fed external ones.

    The wrapped generator is deep-copied, so the caller's module is left untouched.

    Args:
        generator: an AnimeGANv2 ``Generator`` (any module whose norms are ``GroupNorm(1, C)``).
    """

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.num_norms = count_layer_norms(generator)
        bus = _StatsBus(self.num_norms)
        object.__setattr__(self, "_bus", bus)
        self.generator = copy.deepcopy(generator)
        _replace_norms(self.generator, bus)

    def forward(
        self, photo: torch.Tensor, norm_stats: torch.Tensor, norm_mix: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stylise photos, optionally with external normalisation statistics.

        Args:
            photo: [B, 3, H, W] RGB in [-1, 1]; H, W >= 8.
            norm_stats: [B or 1, L, 2] (mean, biased variance) per norm layer, L =
                ``num_norms``; ignored where ``norm_mix`` is 0 (must still be finite).
            norm_mix: [1] in [0, 1]; 0 uses each image's own statistics (the plain
                generator), 1 uses ``norm_stats``.

        Returns:
            fake_anime: [B, 3, H, W] RGB in [-1, 1].
            photo_norm_stats: [B, L, 2] statistics this call computed from its own input
                (before mixing), to feed to later calls as ``norm_stats``.
        """
        bus: _StatsBus = self._bus  # type: ignore[assignment]
        bus.external = norm_stats
        bus.mix = norm_mix
        fake_anime = self.generator(photo)
        photo_norm_stats = torch.stack(bus.recorded, dim=1)  # type: ignore[arg-type]
        bus.external, bus.mix = None, None
        bus.recorded = [None] * self.num_norms
        return fake_anime, photo_norm_stats
