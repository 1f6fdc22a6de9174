"""AnimeGANv2 generator in the module and key layout of the animegan2-pytorch port.

The layout (and therefore every ``state_dict`` key) matches bryandlee/animegan2-pytorch, so
its published weights (``face_paint_512_v1/v2.pt``, ``celeba_distill.pt``, ``paprika.pt``)
load with ``strict=True`` and give the port's outputs. The math follows the official
TensorFlow v2 generator: reflection padding, layer norm over (C, H, W) with per-channel affine
(``GroupNorm(1, C)``), LeakyReLU(0.2), and bilinear resizes back to recorded sizes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from animegan.models.attention import Attention, attention_from_keys, residual_attention
from animegan.models.init import official_generator_init_
from animegan.models.weights import (
    describe_keys,
    load_state_dict_file,
    select_prefixed,
    strip_wrapper_prefixes,
)

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


def _generator_not_found_hint() -> str:
    return (
        "Put a generator state_dict there (animegan2-pytorch format, e.g. face_paint_512_v2.pt "
        "or paprika.pt from github.com/bryandlee/animegan2-pytorch, keys like "
        "'block_a.0.1.weight'; or a lite generator's, keys like 'stem.1.weight'), or a "
        "training checkpoint (.ckpt) of this repository, or pass the path of an existing file."
    )


def generator_layouts() -> dict[str, type[nn.Module]]:
    """The generator classes a weight file can hold, by config name (``conf/model/<name>``).

    Returns:
        ``{"animeganv2": Generator, "animeganv2_lite": GeneratorLite}``.
    """
    from animegan.models.generator_lite import GeneratorLite  # imports this module

    return {"animeganv2": Generator, "animeganv2_lite": GeneratorLite}


def _layout_options(generator_class: type[nn.Module], keys: list[str]) -> dict[str, str]:
    # The full generator's attention variant is read from its keys; the lite one has no options.
    return {"attention": attention_from_keys(keys)} if generator_class is Generator else {}


@functools.cache
def _layout_keys(generator_class: type[nn.Module], **options: str) -> tuple[str, ...]:
    # Built on the meta device: no memory, and no draw from the global RNG (a run's random
    # stream must not depend on whether some weight file was inspected before).
    with torch.device("meta"):
        return tuple(generator_class(**options).state_dict().keys())


def detect_generator_class(keys: list[str] | set[str]) -> type[nn.Module] | None:
    """The generator class whose ``state_dict`` keys overlap ``keys`` the most.

    Args:
        keys: state_dict keys without prefix (e.g. ``"block_a.0.1.weight"``).

    Returns:
        :class:`Generator` or :class:`~animegan.models.GeneratorLite`; ``None`` when no key
        of either layout is present. The two layouts share no key except ``out_layer.0.weight``,
        so a file of one never scores higher on the other.
    """
    keys = set(keys)
    scores = {cls: len(keys & set(_layout_keys(cls))) for cls in generator_layouts().values()}
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] > 0 else None


def load_generator(
    path: str | Path,
    map_location: str | torch.device = "cpu",
    *,
    prefix: str = "generator.",
    download: bool = True,
) -> nn.Module:
    """Build a generator from a weight file or a published name and put it in eval mode.

    Accepts a plain state_dict (animegan2-pytorch ``.pt`` format, or a lite generator's) or a
    checkpoint of this repository (a dict whose ``"state_dict"`` holds the generator under
    ``prefix``, other keys ignored). The layout (full :class:`Generator` or
    :class:`~animegan.models.GeneratorLite`) is told from the keys. ``_orig_mod.``
    (torch.compile) and ``module.`` (DDP) key parts are dropped. The file is read with
    ``weights_only=True`` and loaded with ``strict=True``; no class named in the file is ever
    built.

    A published name (``face_paint_512_v2``, ``face_paint_512_v1``, ``celeba_distill``,
    ``paprika``; see :mod:`animegan.models.registry`) is resolved first: the file in the torch
    hub cache, downloaded there on first use and checked against the registry's SHA-256 where
    it has one. An existing file of the same name wins over the name.

    Args:
        path: weight file, or a published weights name.
        map_location: device the tensors are loaded onto and the model is moved to.
        prefix: key prefix of the generator inside a training checkpoint, e.g.
            ``"generator_ema."`` to load an EMA copy.
        download: fetch a published file missing from the cache; ``False`` stops with the
            offline message instead.

    Returns:
        ``Generator`` or ``GeneratorLite`` in eval mode with the file's weights.

    Raises:
        WeightsNotFoundError: ``path`` does not exist, or a published file is missing and
            could not be downloaded (the message names the file, its URL and where to put it).
        WeightsChecksumError: a published file's SHA-256 differs from the registry's.
        ValueError: the file holds no generator weights, or they do not fit the layout.
    """
    from animegan.models.registry import resolve_weights

    path = resolve_weights(path, download=download)
    state_dict = strip_wrapper_prefixes(
        load_state_dict_file(
            path,
            map_location=map_location,
            what="generator weights",
            hint=_generator_not_found_hint(),
        )
    )
    selected = select_prefixed(state_dict, prefix) or state_dict
    generator_class = detect_generator_class(list(selected))
    if generator_class is None:
        expected = _layout_keys(Generator)
        raise ValueError(
            f"{path} holds no generator weights. Found keys {describe_keys(list(state_dict))}; "
            f"expected a plain generator state_dict with keys like "
            f"{describe_keys(expected[:3], limit=3)} (or 'stem.1.weight' for the lite "
            f"generator) or a checkpoint with keys like '{prefix}{expected[0]}'."
        )
    generator = generator_class(**_layout_options(generator_class, list(selected)))
    try:
        generator = fit_widths_to_state_dict(generator, selected)  # pruned files: narrower
        generator.load_state_dict(selected, strict=True)
    except RuntimeError as error:
        expected = generator.state_dict()
        params = sum(p.numel() for p in generator.parameters())
        raise ValueError(
            f"{path} holds generator weights that do not fit the {generator_class.__name__} "
            f"layout ({params:,} parameters, {len(expected)} tensors): {error}"
        ) from error
    return generator.to(map_location).eval()


def export_state_dict(generator: nn.Module, path: str | Path) -> Path:
    """Write a generator's weights as a plain state_dict (the animegan2-pytorch format).

    Args:
        generator: a Generator or GeneratorLite, possibly wrapped by torch.compile or DDP.
        path: output file (parent folders are created).

    Returns:
        The path written; ``load_generator`` loads it (and the port's ``Generator`` loads a
        full generator's file).

    Raises:
        ValueError: the module's keys are neither generator layout.
    """
    state_dict = {
        k: v.detach().to("cpu").contiguous().clone()
        for k, v in strip_wrapper_prefixes(generator.state_dict()).items()
    }
    generator_class = detect_generator_class(list(state_dict)) or Generator
    expected = _layout_keys(generator_class, **_layout_options(generator_class, list(state_dict)))
    if set(state_dict) != set(expected):
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        raise ValueError(
            f"Not a {generator_class.__name__} layout: missing {describe_keys(missing)}, "
            f"unexpected {describe_keys(unexpected)}."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, path)
    return path


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


def infer_generator_widths(state_dict: dict[str, torch.Tensor]) -> GeneratorWidths:
    """Read the widths of a (possibly pruned) generator from its ``state_dict`` shapes.

    Args:
        state_dict: generator tensors under the :class:`Generator` keys.

    Returns:
        The widths whose :class:`Generator` has these keys; a strict load then checks every
        other shape.

    Raises:
        ValueError: a key the widths are read from is missing or not a conv weight.
    """

    def out_channels(key: str) -> int:
        tensor = state_dict.get(key)
        if tensor is None or tensor.ndim != 4:
            raise ValueError(f"generator weights lack the conv weight {key!r}")
        return int(tensor.shape[0])

    def cnl(prefix: str, count: int) -> tuple[int, ...]:
        return tuple(out_channels(f"{prefix}.{i}.1.weight") for i in range(count))

    return GeneratorWidths(
        block_a=cnl("block_a", 3),  # type: ignore[arg-type]
        block_b=cnl("block_b", 2),  # type: ignore[arg-type]
        block_c_in=out_channels("block_c.0.1.weight"),
        block_c_expand=tuple(  # type: ignore[arg-type]
            out_channels(f"block_c.{i}.layers.0.1.weight") for i in range(1, 5)
        ),
        block_c_residual=out_channels("block_c.1.layers.2.weight"),
        block_c_out=out_channels("block_c.5.1.weight"),
        block_d=cnl("block_d", 2),  # type: ignore[arg-type]
        block_e=cnl("block_e", 3),  # type: ignore[arg-type]
    )


def fit_widths_to_state_dict(
    generator: nn.Module, state_dict: dict[str, torch.Tensor]
) -> nn.Module:
    """A :class:`Generator` as wide as ``state_dict``'s tensors (a pruned file), else ``generator``.

    Args:
        generator: the freshly built generator ``load_generator`` will load into.
        state_dict: the file's generator tensors.

    Returns:
        ``generator`` itself when it is not a :class:`Generator` or every shape already fits;
        otherwise a new ``Generator(widths=infer_generator_widths(state_dict))``.
    """
    if type(generator) is not Generator:
        return generator
    own = generator.state_dict()
    if all(k not in own or own[k].shape == v.shape for k, v in state_dict.items()):
        return generator
    attention = getattr(generator, "attention", "none")
    return Generator(init="pytorch", attention=attention, widths=infer_generator_widths(state_dict))
