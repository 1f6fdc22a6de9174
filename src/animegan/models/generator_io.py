"""Loading and saving generator weights: layouts, published and trained files, pruned widths.

:func:`load_generator` reads a generator ``.pt`` (the animegan2-pytorch files, ours, pruned
ones) or a training checkpoint, picks the layout (full, lite, attention variant, widths) from
the keys and shapes alone, and loads with ``strict=True``. Nothing in a file can name a class
to build: the layouts are the fixed table :func:`generator_layouts`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import nn

from animegan.models.attention import attention_from_keys
from animegan.models.generator import Generator, GeneratorWidths
from animegan.models.generator_lite import GeneratorLite
from animegan.models.weights import (
    describe_keys,
    load_state_dict_file,
    select_prefixed,
    strip_wrapper_prefixes,
)

__all__ = [
    "detect_generator_class",
    "export_state_dict",
    "fit_widths_to_state_dict",
    "generator_layouts",
    "infer_generator_widths",
    "load_generator",
]


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
