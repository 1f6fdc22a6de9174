"""Structured channel pruning of a trained AnimeGANv2 generator, and an optional short fine-tune.

Channels are removed whole, so the pruned generator is an ordinary, narrower
:class:`~animegan.models.Generator` (same ``state_dict`` keys, smaller tensors) that
``load_generator``, ``animegan stylize`` and the ONNX/INT8 export handle like any other.

Couplings (a *channel set* is a group of channels that must be kept or removed together):

- a ``ConvNormLReLU``: the conv's output filters, its ``GroupNorm(1, C)`` weight/bias, and the
  input channels of the next conv;
- inside each inverted residual block: the 1x1 expand conv's output filters (and its norm), the
  depthwise conv (weight, bias, norm: one channel per group) and the 1x1 project conv's input
  channels;
- block_c's residual stream: the project convs of all four inverted residual blocks (and their
  norms) write it, the expand convs of blocks 2-4 and ``block_c.5`` read it, and the residual
  adds tie them together, so it is one set;
- the RGB input and output channels are never pruned.

Ranking: a channel's score is the L1 norm of the output filter(s) of the conv(s) that write it
(``score="l1"``); for the residual set, the sum over its four project convs. ``"l1_gamma"``
multiplies each filter's L1 norm by ``|gamma|`` of the layer norm after it (what the channel
contributes after normalisation). Each set keeps ``round((1 - ratio) * C)`` channels (at least
one), its highest-scoring ones, in their original order.

Layer norm normalises over all (C, H, W), so removing even an all-zero channel changes the
mean and variance every other channel is normalised by: pruning is never exactly lossless at
ratio > 0 (measured in ``experiments/pruning/``). :mod:`animegan.export.prune_finetune` recovers
part of it by training the pruned generator towards the unpruned one's outputs on real photos.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from animegan.models.generator import Generator, GeneratorWidths
from animegan.models.generator_io import infer_generator_widths
from animegan.models.weights import describe_keys

__all__ = [
    "PRUNE_SCORES",
    "ChannelSet",
    "PruneResult",
    "channel_scores",
    "generator_channel_sets",
    "prune_generator",
    "prune_state_dict",
    "save_pruned",
    "state_dict_size_mb",
]

log = logging.getLogger(__name__)

PRUNE_SCORES = ("l1", "l1_gamma")
PruneScore = Literal["l1", "l1_gamma"]


@dataclass(frozen=True)
class ChannelSet:
    """Channels of a generator that are kept or removed together.

    Attributes:
        name: readable name, e.g. ``"block_a.0"`` or ``"block_c.residual"``.
        producers: ``(conv weight key, norm prefix)`` of each conv that writes the set; their
            output filters give the score, the norm's ``weight`` is ``gamma``.
        out_keys: tensors indexed by the set along dim 0 (conv filters, biases, norm affine).
        in_keys: conv weights indexed by the set along dim 1 (input channels).
    """

    name: str
    producers: tuple[tuple[str, str], ...]
    out_keys: tuple[str, ...]
    in_keys: tuple[str, ...]


# Each ConvNormLReLU and the conv that reads its output.
_CNL_CHAIN: tuple[tuple[str, str], ...] = (
    ("block_a.0", "block_a.1.1.weight"),
    ("block_a.1", "block_a.2.1.weight"),
    ("block_a.2", "block_b.0.1.weight"),
    ("block_b.0", "block_b.1.1.weight"),
    ("block_b.1", "block_c.0.1.weight"),
    ("block_c.0", "block_c.1.layers.0.1.weight"),
    ("block_c.5", "block_d.0.1.weight"),
    ("block_d.0", "block_d.1.1.weight"),
    ("block_d.1", "block_e.0.1.weight"),
    ("block_e.0", "block_e.1.1.weight"),
    ("block_e.1", "block_e.2.1.weight"),
    ("block_e.2", "out_layer.0.weight"),
)
_INVERTED_RESIDUAL_BLOCKS = (1, 2, 3, 4)  # block_c.1..4


def generator_channel_sets() -> tuple[ChannelSet, ...]:
    """The 17 channel sets of the AnimeGANv2 generator (12 conv outputs, 4 bottlenecks, 1 residual).

    Returns:
        Every set. Each ``state_dict`` tensor but ``out_layer.0.weight`` (whose RGB outputs are
        never pruned) is in exactly one set's ``out_keys``.
    """
    sets = [
        ChannelSet(
            name=prefix,
            producers=((f"{prefix}.1.weight", f"{prefix}.2"),),
            out_keys=(f"{prefix}.1.weight", f"{prefix}.2.weight", f"{prefix}.2.bias"),
            in_keys=(consumer,),
        )
        for prefix, consumer in _CNL_CHAIN
    ]
    for block in _INVERTED_RESIDUAL_BLOCKS:
        base = f"block_c.{block}.layers"
        sets.append(
            ChannelSet(
                name=f"block_c.{block}.bottleneck",
                producers=((f"{base}.0.1.weight", f"{base}.0.2"),),
                out_keys=(
                    f"{base}.0.1.weight",  # expand 1x1
                    f"{base}.0.2.weight",
                    f"{base}.0.2.bias",
                    f"{base}.1.1.weight",  # depthwise 3x3, [C, 1, 3, 3]
                    f"{base}.1.1.bias",
                    f"{base}.1.2.weight",
                    f"{base}.1.2.bias",
                ),
                in_keys=(f"{base}.2.weight",),  # project 1x1
            )
        )
    residual_out: list[str] = []
    for block in _INVERTED_RESIDUAL_BLOCKS:
        base = f"block_c.{block}.layers"
        residual_out += [f"{base}.2.weight", f"{base}.3.weight", f"{base}.3.bias"]
    sets.append(
        ChannelSet(
            name="block_c.residual",
            producers=tuple(
                (f"block_c.{block}.layers.2.weight", f"block_c.{block}.layers.3")
                for block in _INVERTED_RESIDUAL_BLOCKS
            ),
            out_keys=tuple(residual_out),
            in_keys=(
                *(f"block_c.{block}.layers.0.1.weight" for block in (2, 3, 4)),
                "block_c.5.1.weight",
            ),
        )
    )
    return tuple(sets)


def channel_scores(
    state_dict: Mapping[str, torch.Tensor],
    channel_set: ChannelSet,
    score: PruneScore = "l1",
) -> torch.Tensor:
    """Importance of each channel of a set (higher = kept first).

    Args:
        state_dict: generator tensors.
        channel_set: the set to score.
        score: ``"l1"``: sum over the set's producing convs of the L1 norm of the channel's
            output filter; ``"l1_gamma"``: each term times ``|gamma|`` of the norm after that conv.

    Returns:
        ``[C]`` float64 scores, >= 0.
    """
    if score not in PRUNE_SCORES:
        raise ValueError(f"score must be one of {PRUNE_SCORES}, got {score!r}")
    total: torch.Tensor | None = None
    for conv_key, norm_prefix in channel_set.producers:
        weight = state_dict[conv_key].detach().to("cpu", torch.float64)  # [C, in, k, k]
        term = weight.abs().flatten(1).sum(dim=1)  # [C]
        if score == "l1_gamma":
            term = (
                term * state_dict[f"{norm_prefix}.weight"].detach().to("cpu", torch.float64).abs()
            )
        total = term if total is None else total + term
    assert total is not None
    return total


def _keep_count(channels: int, ratio: float, round_to: int) -> int:
    keep = round((1.0 - ratio) * channels)
    if round_to > 1:
        keep = round_to * round(keep / round_to)
    return int(min(channels, max(1, keep)))


@dataclass
class PruneResult:
    """Outcome of :func:`prune_state_dict`.

    Attributes:
        state_dict: the pruned tensors (same keys as the input, narrower shapes).
        widths: the pruned generator's widths.
        kept: per set name, the kept channel indices of the input (ascending).
        removed: per set name, the removed channel indices, lowest score first.
        ratio: requested ratio.
        score: ranking used.
    """

    state_dict: dict[str, torch.Tensor]
    widths: GeneratorWidths
    kept: dict[str, list[int]] = field(default_factory=dict)
    removed: dict[str, list[int]] = field(default_factory=dict)
    ratio: float = 0.0
    score: str = "l1"

    def format(self) -> str:
        """Table of channels kept per set."""
        lines = [f"pruned at ratio {self.ratio:g} (score {self.score}): channels kept per set"]
        for name, kept in self.kept.items():
            total = len(kept) + len(self.removed[name])
            lines.append(f"  {name:<22} {len(kept):>4} / {total}")
        return "\n".join(lines)


def _check_layout(state_dict: Mapping[str, torch.Tensor]) -> None:
    with torch.device("meta"):  # keys only: no memory, no draw from the global RNG
        expected = set(Generator(init="pytorch").state_dict())
    got = set(state_dict)
    if got != expected:
        missing = sorted(expected - got)
        unexpected = sorted(got - expected)
        raise ValueError(
            "pruning supports the plain AnimeGANv2 generator layout (77 tensors, keys like "
            f"'block_a.0.1.weight') only: missing {describe_keys(missing)}, unexpected "
            f"{describe_keys(unexpected)}. Load it with animegan.models.load_generator first."
        )


def prune_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    ratio: float,
    *,
    score: PruneScore = "l1",
    round_to: int = 1,
) -> PruneResult:
    """Remove the lowest-scoring ``ratio`` of the channels of every channel set.

    Args:
        state_dict: generator tensors (published widths or already pruned ones).
        ratio: share of each set's channels to remove, in [0, 1); 0 returns equal tensors.
        score: channel ranking (see :func:`channel_scores`).
        round_to: round each kept count to a multiple of this (e.g. 8 for SIMD-friendly
            widths); 1 = no rounding.

    Returns:
        :class:`PruneResult` with the narrower tensors (fresh copies; the input is untouched).

    Raises:
        ValueError: ratio outside [0, 1), round_to < 1, unknown score, or not the generator
            layout.
    """
    if not (isinstance(ratio, (int, float)) and 0.0 <= ratio < 1.0 and math.isfinite(ratio)):
        raise ValueError(f"ratio must be in [0, 1), got {ratio!r}")
    if round_to < 1:
        raise ValueError(f"round_to must be >= 1, got {round_to}")
    if score not in PRUNE_SCORES:
        raise ValueError(f"score must be one of {PRUNE_SCORES}, got {score!r}")
    _check_layout(state_dict)
    pruned = {k: v.detach().to("cpu").clone() for k, v in state_dict.items()}
    result = PruneResult(state_dict=pruned, widths=GeneratorWidths(), ratio=ratio, score=score)
    for channel_set in generator_channel_sets():
        # Scores come from the original tensors: every set's producers are untouched by the
        # other sets along dim 0, so the order of the sets does not matter.
        scores = channel_scores(state_dict, channel_set, score)
        channels = scores.numel()
        keep = _keep_count(channels, ratio, round_to)
        order = torch.argsort(scores, stable=True)  # ascending; ties: lower index removed first
        removed = order[: channels - keep]
        kept = torch.sort(order[channels - keep :]).values
        for key in channel_set.out_keys:
            pruned[key] = pruned[key].index_select(0, kept)
        for key in channel_set.in_keys:
            pruned[key] = pruned[key].index_select(1, kept)
        result.kept[channel_set.name] = kept.tolist()
        result.removed[channel_set.name] = removed.tolist()
    result.widths = infer_generator_widths(pruned)
    return result


def prune_generator(
    generator: nn.Module,
    ratio: float,
    *,
    score: PruneScore = "l1",
    round_to: int = 1,
) -> tuple[Generator, PruneResult]:
    """Prune a generator module (see :func:`prune_state_dict`); the input is left unchanged.

    Args:
        generator: a :class:`Generator` (published or pruned widths), on any device.
        ratio: share of each channel set to remove, in [0, 1).
        score: channel ranking.
        round_to: multiple the kept counts are rounded to.

    Returns:
        ``(pruned Generator in eval mode on CPU, PruneResult)``.
    """
    result = prune_state_dict(generator.state_dict(), ratio, score=score, round_to=round_to)
    with torch.device("meta"):  # built empty, then given the pruned tensors: no RNG draw
        pruned = Generator(init="pytorch", widths=result.widths)
    pruned.load_state_dict(result.state_dict, strict=True, assign=True)
    return pruned.eval(), result


def state_dict_size_mb(state_dict: Mapping[str, torch.Tensor]) -> float:
    """Bytes of a state_dict's tensors in MB (10^6 bytes), about its ``.pt`` file size."""
    return sum(t.numel() * t.element_size() for t in state_dict.values()) / 1e6


def save_pruned(generator: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write a pruned generator as a plain state_dict ``.pt`` (``load_generator`` reads it).

    Args:
        generator: the pruned :class:`Generator`.
        path: output file (parent folders are created).

    Returns:
        The written path.
    """
    from animegan.models import export_state_dict

    return export_state_dict(generator, path)
