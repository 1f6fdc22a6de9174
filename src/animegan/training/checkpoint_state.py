"""The ``animegan`` section of a training checkpoint: plain values only (``weights_only`` loads it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from animegan.training.rng import collect_rng_states, restore_rng_states

# Bumped when the checkpoint layout changes; loaders can refuse what they do not understand.
CHECKPOINT_FORMAT = 1


def checkpoint_section(
    *, phase: str, init_epochs: int, run_config: Mapping[str, Any] | None, skipped_updates: int
) -> dict[str, Any]:
    """What the module adds to every checkpoint under ``checkpoint["animegan"]``.

    Args:
        phase: ``"init"`` or ``"gan"`` at save time.
        init_epochs: content-only epochs of the run.
        run_config: resolved run configuration (plain dict) or None.
        skipped_updates: non-finite updates skipped so far.

    Returns:
        A dict of plain values and tensors: format, phase, init_epochs, config, RNG states
        (torch, NumPy, Python, CUDA when used) and the skipped-update count.
    """
    return {
        "format": CHECKPOINT_FORMAT,
        "phase": phase,
        "init_epochs": init_epochs,
        "config": dict(run_config) if run_config is not None else None,
        "rng_states": collect_rng_states(),
        "skipped_updates": skipped_updates,
    }


def restore_checkpoint_section(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """Check the ``animegan`` section of a checkpoint and restore its RNG states.

    Args:
        checkpoint: the loaded checkpoint dict.

    Returns:
        The section (see :func:`checkpoint_section`).

    Raises:
        ValueError: the checkpoint was not written by this repository, or by a newer format.
    """
    section = checkpoint.get("animegan")
    if not isinstance(section, Mapping):
        raise ValueError(
            "this checkpoint has no 'animegan' section: it was not written by this repository. "
            "Load published generator weights with animegan.models.load_generator instead."
        )
    if section.get("format", 0) > CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint format {section['format']} is newer than this code ({CHECKPOINT_FORMAT}); "
            "update the repository to resume it."
        )
    if section.get("rng_states") is not None:
        restore_rng_states(section["rng_states"])
    return dict(section)
