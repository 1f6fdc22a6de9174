"""The inputs of an evaluation: photo and reference lists, their caps and counts.

Caps take evenly spaced files of the sorted lists (deterministic, spread over the whole set);
files a folder scan left out are counted and reported, never dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["evenly_spaced", "input_counts", "inputs_from_datamodule", "skipped_of"]


def evenly_spaced(paths: Sequence[Path], count: int | None) -> list[Path]:
    """``count`` items spread evenly over ``paths`` (all of them when ``count`` is None or larger).

    Args:
        paths: sorted file list.
        count: how many to keep (>= 1) or ``None``.

    Returns:
        ``[paths[i * len(paths) // count] for i in range(count)]``, in order.
    """
    paths = list(paths)
    if count is None or count >= len(paths):
        return paths
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return [paths[i * len(paths) // count] for i in range(count)]


def inputs_from_datamodule(
    datamodule: Any, reference_dir: str | os.PathLike[str] | None = None
) -> tuple[list[Path], list[Path]]:
    """The photos and reference anime images a training run evaluates on.

    Args:
        datamodule: an :class:`~animegan.data.AnimeGANDataModule` (set up on demand).
        reference_dir: folder of held-out anime images; ``None`` uses the training anime images.

    Returns:
        ``(photo_paths, reference_paths)``: the fixed validation subset and the anime references.
    """
    from animegan.data.decode import DEFAULT_MAX_PIXELS
    from animegan.data.scan import ImagePaths, scan_image_folder

    if getattr(datamodule, "layout", None) is None:
        datamodule.setup("fit")
    photos = list(getattr(datamodule, "val_photos", []))
    if not photos:
        raise ValueError("the datamodule has no validation photos to evaluate")
    scans = getattr(datamodule, "scans", {})
    # The scan the validation photos were drawn from: what it left out is reported with them.
    source = scans.get("val") or scans.get("photo")
    if source is not None:
        photos = ImagePaths(
            photos, folder=source.folder, skipped=source.skipped, found=source.found
        )
    if reference_dir is not None:
        references = scan_image_folder(
            reference_dir,
            getattr(datamodule, "cache_dir", None),
            role="reference anime images",
            max_pixels=getattr(datamodule, "max_pixels", DEFAULT_MAX_PIXELS),
        ).paths
    else:
        references = datamodule.scans["anime"].paths
    return photos, references


def skipped_of(
    paths: Sequence[Any], given: Sequence[tuple[Any, str]] | None
) -> list[tuple[Path, str]]:
    """``(path, reason)`` of the inputs left out: ``given``, else ``paths.skipped`` when present.

    Args:
        paths: the usable paths (an :class:`~animegan.data.scan.ImagePaths` carries its skips).
        given: skips named by the caller, overriding those of ``paths``.

    Returns:
        One ``(Path, reason)`` per skipped input.
    """
    if given is not None:
        return [(Path(path), str(reason)) for path, reason in given]
    return [(Path(path), str(reason)) for path, reason in getattr(paths, "skipped", ())]


def input_counts(
    role: str, given: Sequence[Any], used: Sequence[Any], skipped: Sequence[Any]
) -> dict[str, int]:
    """How many inputs of one kind were found, used, skipped and left out by the cap.

    Args:
        role: key prefix, ``"photos"`` or ``"references"``.
        given: the usable paths passed in (an :class:`~animegan.data.scan.ImagePaths` also
            knows how many entries its folder held).
        used: the paths actually evaluated (after ``num_photos``/``num_reference``).
        skipped: ``(path, reason)`` of the entries left out as unusable.

    Returns:
        ``{role}_found`` (entries considered), ``{role}_scored`` (or ``_used`` for references),
        ``{role}_skipped`` and ``{role}_not_sampled`` (usable, left out by the cap or by the
        fixed validation subset).
    """
    found = int(getattr(given, "found", len(given) + len(skipped)))
    used_key = "scored" if role == "photos" else "used"
    return {
        f"{role}_found": found,
        f"{role}_{used_key}": len(used),
        f"{role}_skipped": len(skipped),
        f"{role}_not_sampled": max(found - len(skipped) - len(used), 0),
    }
