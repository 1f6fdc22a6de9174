"""Reading photos for stylisation (EXIF orientation, explicit alpha), finding inputs, writing.

Colour is decoded exactly like the training data (:func:`animegan.data.read_image_rgb`: EXIF
orientation applied, every pixel mode mapped to 8-bit RGB, transparency composited over white),
so the generator sees what it was trained on. The alpha channel is read separately, only when it
is asked for, and put back on the output unchanged.
"""

from __future__ import annotations

import glob
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from animegan.data.decode import (
    ImageDecodeError,
    entry_problem,
    image_suffixes,
    list_image_files,
    read_image_rgb,
)

__all__ = [
    "DecodedImage",
    "InputItem",
    "collect_inputs",
    "probe_writable",
    "read_photo",
    "write_image",
]

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# Output formats PIL can write with an alpha channel.
_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF", "GIF", "TGA", "JPEG2000"})
JPEG_QUALITY = 95


@dataclass(frozen=True)
class DecodedImage:
    """A decoded photo.

    Attributes:
        rgb: ``[H, W, 3]`` uint8 RGB, EXIF orientation applied, alpha composited over white.
        alpha: ``[H, W]`` uint8 alpha (255 = opaque) when the file has one and it was asked
            for, else ``None``.
        had_alpha: whether the file has transparency (whether or not it was kept).
        icc_profile: the file's embedded ICC colour profile, copied to the output.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    had_alpha: bool
    icc_profile: bytes | None


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in _ALPHA_MODES or "transparency" in img.info


def read_photo(
    path: str | os.PathLike[str], *, keep_alpha: bool = False, max_pixels: int | None = None
) -> DecodedImage:
    """Decode an image file for stylisation.

    Args:
        path: image file (format judged by content, not by extension).
        keep_alpha: also return the alpha channel (EXIF-rotated like the colour).
        max_pixels: refuse (from the header, before decoding) images with more pixels;
            ``None``: no limit beyond PIL's own.

    Returns:
        :class:`DecodedImage`.

    Raises:
        ImageTooLargeError: the image is above ``max_pixels``.
        ImageDecodeError: the file is missing, empty, truncated or not an image.
    """
    path = Path(path)
    rgb = read_image_rgb(path, max_pixels=max_pixels)
    alpha = None
    try:
        with Image.open(path) as img:
            had_alpha = _has_alpha(img)
            icc_profile = img.info.get("icc_profile")
            if keep_alpha and had_alpha:
                img.load()
                alpha = np.asarray(ImageOps.exif_transpose(img).convert("RGBA"))[..., 3].copy()
    except (OSError, SyntaxError, ValueError) as exc:  # read_image_rgb already succeeded
        raise ImageDecodeError(f"cannot read the alpha channel of {path}: {exc}") from exc
    if alpha is not None and alpha.shape != rgb.shape[:2]:
        raise ImageDecodeError(f"{path}: alpha {alpha.shape} does not match colour {rgb.shape}")
    return DecodedImage(rgb=rgb, alpha=alpha, had_alpha=had_alpha, icc_profile=icc_profile)


def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    icc_profile: bytes | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an RGB(A) image, in the format its suffix names, without EXIF orientation.

    The file is written to a temporary name and renamed, so an interrupted run never leaves a
    half-written output that a later run would then refuse to overwrite.

    Args:
        path: output file; its suffix picks the format (``.jpg`` -> JPEG quality 95).
        rgb: ``[H, W, 3]`` uint8 RGB (already in display orientation).
        alpha: ``[H, W]`` uint8 alpha to attach, or ``None``.
        icc_profile: ICC profile to embed (formats that support one).
        overwrite: replace an existing file; otherwise an existing file raises.

    Returns:
        The written path.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        ValueError: the format cannot hold an alpha channel, or the suffix is unknown.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass --overwrite to replace it)")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the image format from the suffix of {path}")
    image = Image.fromarray(np.ascontiguousarray(rgb)) if alpha is None else None
    if alpha is not None:
        if fmt not in _ALPHA_FORMATS:
            raise ValueError(f"{fmt} cannot store an alpha channel ({path}); drop --keep-alpha")
        image = Image.fromarray(np.dstack([rgb, alpha]))
    assert image is not None
    options: dict[str, object] = {}
    if fmt == "JPEG":
        options.update(quality=JPEG_QUALITY, subsampling=0)
    elif fmt == "WEBP":
        options.update(quality=JPEG_QUALITY)
    if icc_profile and fmt in {"JPEG", "PNG", "WEBP", "TIFF"}:
        options["icc_profile"] = icc_profile
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: PIL creates the file itself, so it gets the usual umask permissions.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        image.save(tmp, format=fmt, **options)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def probe_writable(folder: str | os.PathLike[str]) -> str | None:
    """Check that files can be written into ``folder``, leaving nothing behind.

    Creates the missing folders, writes and deletes a small hidden file, then removes the
    folders it created. A real write is the only test that holds for read-only mounts, full
    disks and root (for whom permission bits do not apply).

    Args:
        folder: the output folder (it may not exist yet).

    Returns:
        ``None`` when writable, else a message saying why not.
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        return f"{folder} exists and is not a folder"
    created: list[Path] = []
    try:
        missing = [p for p in [folder, *folder.parents] if not p.exists()]
        for parent in reversed(missing):
            parent.mkdir()
            created.append(parent)
        probe = folder / f".animegan-write-test.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        with probe.open("wb") as handle:
            handle.write(b"0" * 4096)
        probe.unlink()
    except OSError as error:
        return f"cannot write into {folder}: {error.strerror or error}"
    finally:
        for path in reversed(created):
            try:
                path.rmdir()
            except OSError:
                pass
    return None


@dataclass(frozen=True)
class InputItem:
    """One input file and the path of its output relative to the output folder."""

    path: Path
    relative: Path


def _input_suffixes() -> frozenset[str]:
    from animegan.inference.video import VIDEO_SUFFIXES  # folders also yield their videos

    return image_suffixes() | VIDEO_SUFFIXES


def collect_inputs(
    specs: Sequence[str | os.PathLike[str]], *, recursive: bool = False
) -> tuple[list[InputItem], list[tuple[str, str]]]:
    """Expand files, folders and glob patterns into input files with output names.

    A file keeps its name; a folder contributes its image files (by suffix; with
    ``recursive``, sub-folders too, keeping their relative path); a pattern with ``*``, ``?`` or
    ``[`` is expanded with :mod:`glob` (``**`` allowed). Explicitly named files are always
    tried, whatever their suffix. When two inputs would get the same output name, the later
    one is reported, not processed. Entries named like images that are not regular files
    (dangling links, link loops, pipes, folders named ``*.jpg``) are reported, never opened.

    Args:
        specs: command-line inputs.
        recursive: descend into sub-folders of folder inputs.

    Returns:
        ``(items, problems)``: items in input order without duplicates, and
        ``(spec, reason)`` for inputs that matched nothing or would collide.
    """
    items: list[InputItem] = []
    problems: list[tuple[str, str]] = []
    seen_paths: set[Path] = set()
    seen_outputs: dict[Path, Path] = {}

    def add(path: Path, relative: Path) -> None:
        resolved = path.resolve()
        if resolved in seen_paths:
            return
        seen_paths.add(resolved)
        if relative in seen_outputs:
            problems.append(
                (str(path), f"same output name as {seen_outputs[relative]}; rename one of them")
            )
            return
        seen_outputs[relative] = path
        items.append(InputItem(path=path, relative=relative))

    for spec in specs:
        text = os.fspath(spec)
        path = Path(text).expanduser()
        problem = entry_problem(path)
        if problem is None:
            add(path, Path(path.name))
        elif path.is_dir():
            listing = list_image_files(path, recursive=recursive, suffixes=_input_suffixes())
            files, odd = listing.files, listing.skipped
            problems.extend((str(entry), reason) for entry, reason in odd)
            if not files:
                found = f" (only {len(odd)} unusable entries named like images)" if odd else ""
                problems.append((text, f"folder holds no image files{found}"))
            for file in files:
                add(file, file.relative_to(path))
        elif glob.has_magic(text) and not path.is_symlink():
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(text), recursive=True))
            files = [m for m in matches if entry_problem(m) is None]
            suffixes = _input_suffixes()
            problems.extend(
                (str(m), str(entry_problem(m)))
                for m in matches
                if entry_problem(m) is not None and (not m.is_dir() or m.suffix.lower() in suffixes)
            )
            if not files:
                problems.append((text, "pattern matches no file"))
            for file in files:
                add(file, Path(file.name))
        elif problem == "does not exist":
            problems.append((text, "no such file or folder"))
        else:
            problems.append((text, problem))
    return items, problems
