"""Plain values out of a config stored in a checkpoint or a run folder (untrusted data).

A checkpoint or a ``config_resolved.yaml`` can come from anyone. Its config is therefore never
instantiated and no class it names is ever built: the readers here take only plain values
(paths, sizes, names, numbers), check their types, and return small frozen dataclasses from which
the caller builds the project's own classes. Anything else is refused with one
:class:`StoredConfigError` sentence that names the file, the key and what to do instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DATAMODULE_TARGETS",
    "CheckpointMeta",
    "StoredConfigError",
    "StoredData",
    "read_checkpoint_meta",
    "read_plain",
    "read_reference_dir",
    "read_stored_data",
]

# The only data classes a stored `data._target_` may name; every one is rebuilt as the plain
# AnimeGANDataModule (what evaluation needs: the fixed validation photos and the anime images).
DATAMODULE_TARGETS: frozenset[str] = frozenset(
    {
        "animegan.data.AnimeGANDataModule",
        "animegan.data.datamodule.AnimeGANDataModule",
        "animegan.faces.FaceAnimeDataModule",
        "animegan.faces.datamodule.FaceAnimeDataModule",
    }
)
PHASES: frozenset[str] = frozenset({"init", "gan"})

_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


class StoredConfigError(ValueError):
    """A stored config holds something other than the plain value a key must have."""


def _describe(value: Any) -> str:
    if isinstance(value, Mapping) and "_target_" in value:
        return f"a mapping naming _target_={value['_target_']!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


def read_plain(
    config: Mapping[str, Any],
    key: str,
    kind: str,
    *,
    source: str,
    optional: bool = False,
    default: Any = None,
    minimum: float | None = None,
) -> Any:
    """One plain value of a stored config, type-checked.

    Args:
        config: the stored mapping.
        key: dotted key (``"data.image_size"``).
        kind: ``"str"``, ``"int"``, ``"float"`` (ints accepted) or ``"bool"``.
        source: the file the config came from, for the message.
        optional: a missing key or ``None`` gives ``default`` instead of an error.
        default: value returned for a missing optional key.
        minimum: smallest allowed number (``int``/``float`` only).

    Returns:
        The value (``float`` for ``kind="float"``).

    Raises:
        StoredConfigError: missing (and not optional), of another type, or below ``minimum``.
    """
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            node = None
            break
        node = node[part]
    if node is None:
        if optional:
            return default
        raise StoredConfigError(f"{source}: the stored config has no {key}")
    allowed = _KINDS[kind]
    # bool is an int subclass: a stored `true` is not a size.
    wrong_bool = isinstance(node, bool) and kind != "bool"
    if wrong_bool or not isinstance(node, allowed):
        raise StoredConfigError(
            f"{source}: stored {key} must be a plain {kind}, got {_describe(node)}; this file's "
            "config is not used as code, so it is refused"
        )
    if kind == "float":
        node = float(node)
        if not math.isfinite(node):
            raise StoredConfigError(f"{source}: stored {key} must be finite, got {node}")
    if minimum is not None and node < minimum:
        raise StoredConfigError(f"{source}: stored {key} must be >= {minimum}, got {node}")
    return node


@dataclass(frozen=True)
class StoredData:
    """Where a training run's data lives, read from its stored ``data`` section.

    Attributes:
        root: dataset root folder (as stored: absolute, or relative to the working directory).
        style: style folder of the official layout, or None.
        photo_dir / anime_dir / val_dir / test_dir: explicit folders, or None.
        image_size: training crop side in pixels (>= 1).
        num_val_images: size of the fixed validation subset (>= 1).
        builtin: the run used the embedded quickstart set (built into ``root``).
        seed: the run's data seed.
    """

    root: str
    style: str | None
    photo_dir: str | None
    anime_dir: str | None
    val_dir: str | None
    test_dir: str | None
    image_size: int
    num_val_images: int
    builtin: bool
    seed: int


def read_stored_data(config: Mapping[str, Any], *, source: str) -> StoredData:
    """The data folders and sizes of a stored run config, without instantiating anything.

    Args:
        config: the stored run config (a plain mapping).
        source: the file it came from, for messages.

    Returns:
        The plain values; transforms and any other entries are ignored.

    Raises:
        StoredConfigError: no ``data`` section, a ``_target_`` that is not one of this
            repository's datamodules, or a value of the wrong type.
    """
    data = config.get("data")
    if not isinstance(data, Mapping):
        raise StoredConfigError(f"{source}: the stored config has no data section")
    target = data.get("_target_")
    if target not in DATAMODULE_TARGETS:
        raise StoredConfigError(
            f"{source}: stored data._target_={target!r} is not one of this repository's "
            "datamodules, so the checkpoint's data settings are refused; pass photo_dir= and "
            "anime_dir= to evaluate it"
        )

    def text(key: str) -> str | None:
        return read_plain(config, f"data.{key}", "str", source=source, optional=True)

    root = read_plain(config, "data.root", "str", source=source)
    return StoredData(
        root=root,
        style=text("style"),
        photo_dir=text("photo_dir"),
        anime_dir=text("anime_dir"),
        val_dir=text("val_dir"),
        test_dir=text("test_dir"),
        image_size=read_plain(config, "data.image_size", "int", source=source, minimum=1),
        num_val_images=read_plain(
            config,
            "data.num_val_images",
            "int",
            source=source,
            optional=True,
            default=8,
            minimum=1,
        ),
        builtin=read_plain(
            config, "data.builtin", "bool", source=source, optional=True, default=False
        ),
        seed=read_plain(config, "data.seed", "int", source=source, optional=True, default=0),
    )


def read_reference_dir(config: Mapping[str, Any], *, source: str) -> str | None:
    """The stored ``callbacks.evaluation.reference_dir`` (held-out FID/KID anime), or None."""
    return read_plain(
        config, "callbacks.evaluation.reference_dir", "str", source=source, optional=True
    )


@dataclass(frozen=True)
class CheckpointMeta:
    """The ``animegan`` section of one of our checkpoints, type-checked.

    Attributes:
        format: checkpoint layout version (>= 0).
        phase: ``"init"`` or ``"gan"``.
        init_epochs: content-only epochs of the run (>= 0).
        config: the stored run config as a plain mapping (None when absent). Read it only
            through the readers of this module.
        skipped_updates: non-finite updates skipped so far (>= 0).
    """

    format: int
    phase: str
    init_epochs: int
    config: Mapping[str, Any] | None
    skipped_updates: int = 0


def read_checkpoint_meta(payload: Any, *, source: str, max_format: int) -> CheckpointMeta | None:
    """Check the ``animegan`` section of a loaded checkpoint.

    Args:
        payload: what ``torch.load(weights_only=True)`` returned.
        source: the file, for messages.
        max_format: newest checkpoint format this code understands.

    Returns:
        The section, or None when the file has none (a plain state_dict such as a published
        animegan2-pytorch ``.pt``).

    Raises:
        StoredConfigError: the section exists but a value has the wrong type or range, or the
            format is newer than ``max_format``.
    """
    if not isinstance(payload, Mapping) or "animegan" not in payload:
        return None
    meta = payload["animegan"]
    if not isinstance(meta, Mapping):
        raise StoredConfigError(f"{source}: its 'animegan' section is {_describe(meta)}")
    wrapped = {"animegan": meta}
    version = read_plain(wrapped, "animegan.format", "int", source=source, minimum=0)
    if version > max_format:
        raise StoredConfigError(
            f"{source}: checkpoint format {version} is newer than this code ({max_format}); "
            "update the repository to read it"
        )
    phase = read_plain(wrapped, "animegan.phase", "str", source=source)
    if phase not in PHASES:
        raise StoredConfigError(f"{source}: stored phase must be 'init' or 'gan', got {phase!r}")
    config = meta.get("config")
    if config is not None and not isinstance(config, Mapping):
        raise StoredConfigError(f"{source}: its stored config is {_describe(config)}")
    return CheckpointMeta(
        format=version,
        phase=phase,
        init_epochs=read_plain(wrapped, "animegan.init_epochs", "int", source=source, minimum=0),
        config=config,
        skipped_updates=read_plain(
            wrapped,
            "animegan.skipped_updates",
            "int",
            source=source,
            optional=True,
            default=0,
            minimum=0,
        ),
    )
