"""Finding the photo, anime, smooth, validation and test folders of a dataset root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from animegan.data.decode import DatasetNotFoundError

__all__ = ["DatasetLayout", "LAYOUT_HELP", "resolve_layout"]

LAYOUT_HELP = """\
Two dataset layouts are understood:
  official (AnimeGANv2 release):          plain (any photo/anime pair):
    <root>/train_photo/   photos              <root>/photo/   photos
    <root>/<Style>/style/ anime images        <root>/anime/   anime images
    <root>/<Style>/smooth/ (optional)         <root>/val/     (optional) sample photos
    <root>/val/           (optional)          <root>/test/    (optional) test photos
    <root>/test/test_photo/ or <root>/test/ (optional)
Or name the folders explicitly with photo_dir= and anime_dir= (relative paths are taken
relative to root)."""

_MAX_LISTED = 20


@dataclass(frozen=True)
class DatasetLayout:
    """Where each part of a dataset lives.

    Attributes:
        photo_dir: training photos.
        anime_dir: training anime (style) images.
        smooth_dir: official precomputed edge-smoothed anime images, or ``None``.
        val_dir: validation photos, or ``None``.
        test_dir: test photos, or ``None``.
        kind: ``"official"`` (train_photo + <Style>/style) or ``"plain"`` (photo + anime).
    """

    photo_dir: Path
    anime_dir: Path
    smooth_dir: Path | None
    val_dir: Path | None
    test_dir: Path | None
    kind: Literal["official", "plain"]


def _listing(root: Path) -> str:
    if not root.exists():
        return f"{root} does not exist."
    if not root.is_dir():
        return f"{root} is a file, not a folder."
    entries = sorted(root.iterdir())
    if not entries:
        return f"{root} is empty."
    names = [e.name + ("/" if e.is_dir() else "") for e in entries[:_MAX_LISTED]]
    more = f" ... and {len(entries) - _MAX_LISTED} more" if len(entries) > _MAX_LISTED else ""
    return f"{root} contains: {', '.join(names)}{more}"


def available_styles(root: Path) -> list[str]:
    """Names of the ``<root>/<Style>/style/`` folders (official layout), sorted."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "style").is_dir())


def _resolve_style(root: Path, style: str | None) -> str:
    styles = available_styles(root)
    if style is None:
        raise DatasetNotFoundError(
            f"{root} has the official layout (train_photo/), so a style must be chosen: "
            f"set style= to one of {styles or '(none found: add <root>/<Style>/style/)'}."
        )
    if (root / style / "style").is_dir():
        return style
    folded = [s for s in styles if s.lower() == style.lower()]
    if len(folded) == 1:
        return folded[0]
    raise DatasetNotFoundError(
        f"style {style!r} not found: {root / style / 'style'} does not exist. "
        f"Available styles in {root}: {styles or 'none'}."
    )


def _optional_dir(path: Path) -> Path | None:
    return path if path.is_dir() else None


def _explicit(root: Path, value: str | os.PathLike[str] | None, name: str) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = root / path
    if not path.is_dir():
        raise DatasetNotFoundError(f"{name}={value!s} points to {path}, which is not a folder.")
    return path


def resolve_layout(
    root: str | os.PathLike[str],
    style: str | None = None,
    photo_dir: str | os.PathLike[str] | None = None,
    anime_dir: str | os.PathLike[str] | None = None,
    val_dir: str | os.PathLike[str] | None = None,
    test_dir: str | os.PathLike[str] | None = None,
) -> DatasetLayout:
    """Work out the dataset folders under ``root``.

    The official layout (``train_photo/``, ``<Style>/style/``) wins when ``train_photo/`` exists;
    otherwise the plain layout (``photo/``, ``anime/``). Explicit folders override what was found;
    relative ones are taken relative to ``root``. Style names match case-insensitively when
    unambiguous (``hayao`` finds ``Hayao``). Folder contents are not checked here.

    Args:
        root: dataset root folder.
        style: style folder name for the official layout (e.g. ``"Hayao"``).
        photo_dir: explicit training photo folder.
        anime_dir: explicit training anime folder.
        val_dir: explicit validation photo folder.
        test_dir: explicit test photo folder.

    Returns:
        The resolved :class:`DatasetLayout`.

    Raises:
        DatasetNotFoundError: no known layout under ``root`` and no explicit folders, the style is
            missing or unknown, or an explicit folder does not exist.
    """
    root = Path(root).expanduser()
    explicit_photo = _explicit(root, photo_dir, "photo_dir")
    explicit_anime = _explicit(root, anime_dir, "anime_dir")
    explicit_val = _explicit(root, val_dir, "val_dir")
    explicit_test = _explicit(root, test_dir, "test_dir")

    kind: Literal["official", "plain"]
    smooth: Path | None = None
    if (root / "train_photo").is_dir():
        kind = "official"
        photo = root / "train_photo"
        if explicit_anime is None:
            chosen = _resolve_style(root, style)
            anime: Path | None = root / chosen / "style"
            smooth = _optional_dir(root / chosen / "smooth")
        else:
            anime = explicit_anime
        val = _optional_dir(root / "val")
        test = _optional_dir(root / "test" / "test_photo") or _optional_dir(root / "test")
    else:
        kind = "plain"
        photo = root / "photo"
        anime = root / "anime"
        val = _optional_dir(root / "val")
        test = _optional_dir(root / "test")

    photo_final = explicit_photo or (photo if photo.is_dir() else None)
    anime_final = explicit_anime or (anime if anime is not None and anime.is_dir() else None)
    if photo_final is None or anime_final is None:
        missing = []
        if photo_final is None:
            missing.append(f"photos ({photo})")
        if anime_final is None:
            missing.append(f"anime images ({anime})")
        raise DatasetNotFoundError(
            f"no dataset found at {root}: missing {' and '.join(missing)}.\n"
            f"{_listing(root)}\n{LAYOUT_HELP}\n"
            "Without data, train on the embedded quickstart set (AnimeGANDataModule(builtin=True)) or run "
            "`python -m animegan.data.download` on a machine that can reach github.com."
        )
    return DatasetLayout(
        photo_dir=photo_final,
        anime_dir=anime_final,
        smooth_dir=smooth if explicit_anime is None else None,
        val_dir=explicit_val or val,
        test_dir=explicit_test or test,
        kind=kind,
    )
