"""Decoding image files by content, and listing the image files of a folder.

Every file is judged by what it contains, never by its extension: the selfie2anime anime set,
for example, holds PNG files named ``*.jpg``. :func:`read_image_rgb` is the one decoder (EXIF
orientation, alpha over white, 16-bit by value range, one error type naming the reason);
:func:`list_image_files` is the one folder lister (hidden entries ignored, sorted, entries that
are not regular files reported with a reason and never opened). Scanning a dataset folder
(decoding every file, with a verdict cache) is :mod:`animegan.data.scan`.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DatasetNotFoundError",
    "FolderListing",
    "ImageDecodeError",
    "ImageTooLargeError",
    "bomb_reason",
    "decode_failure_reason",
    "entry_problem",
    "image_header_size",
    "image_suffixes",
    "list_image_files",
    "read_image_rgb",
    "too_large_reason",
]

# Default pixel limit of training, evaluation and stylize (50 MP, e.g. 8660 x 5773). PIL only
# warns above 89.5 MP and refuses above 179 MP; decoding a 12000 x 12000 image to RGB takes 432 MB
# (plus the resize), whatever its file size (a 1-bit PNG of that size is 80 KB).
DEFAULT_MAX_PIXELS = 50_000_000

_WHITE = 255


class ImageDecodeError(ValueError):
    """A file could not be decoded as an image; the message names the path and the reason."""


class ImageTooLargeError(ImageDecodeError):
    """An image's header gives more pixels than the limit; its pixels were not decoded."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder is missing, empty, or laid out in a way this package does not know."""


def decode_failure_reason(path: Path, exc: BaseException) -> str:
    """Why ``path`` failed to decode with ``exc``, in words for a skip list or an error message.

    Args:
        path: the file that was being decoded.
        exc: the exception PIL (or the OS) raised.

    Returns:
        e.g. ``"empty file (0 bytes)"``, ``"not a recognised image format"``, a reason from
        :func:`entry_problem`, or the exception's own message.
    """
    problem = entry_problem(path)
    if problem is not None:
        return problem
    if not path.exists():
        return "file does not exist"
    if path.is_file() and path.stat().st_size == 0:
        return "empty file (0 bytes)"
    if isinstance(exc, PermissionError):
        return "permission denied (cannot read the file)"
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image format"
    return str(exc) or type(exc).__name__


def image_suffixes() -> frozenset[str]:
    """File suffixes PIL can decode, lower case with the dot (``".jpg"``, ``".png"``, ...)."""
    return frozenset(Image.registered_extensions())


def entry_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a folder entry is not a regular image file, without opening it (``None`` if it is).

    Never opens the entry: opening a named pipe blocks forever.

    Args:
        path: a folder entry or a path given by the user.

    Returns:
        ``"dangling symbolic link ..."``, ``"symbolic link loop"``, ``"a folder, not an image
        file"``, ``"not a regular file ..."``, or ``None`` for a regular file (or a link to one).
        A missing path that is not a link gives ``"does not exist"``.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return f"dangling symbolic link (its target {os.readlink(path)} does not exist)"
        return "does not exist"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop (the link points back to itself)"
        return f"cannot read ({error.strerror or error})"
    if stat.S_ISREG(info.st_mode):
        return None
    if stat.S_ISDIR(info.st_mode):
        return "a folder, not an image file"
    return "not a regular file (a pipe, socket or device; never opened)"


def image_header_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image as stored, read from its header without decoding pixels.

    Args:
        path: image file (format judged by content).

    Returns:
        Stored size in pixels (before EXIF rotation, which does not change the pixel count).

    Raises:
        ImageTooLargeError: the header claims more pixels than PIL's decompression-bomb limit.
        ImageDecodeError: the file is missing, not a regular file or not an image.
    """
    path = Path(path)
    problem = entry_problem(path)
    if problem is not None:
        raise ImageDecodeError(f"cannot decode image {path}: {problem}")
    try:
        with Image.open(path) as img:
            return img.size
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"cannot decode image {path}: {bomb_reason()}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(
            f"cannot decode image {path}: {decode_failure_reason(path, exc)}"
        ) from exc


def too_large_reason(width: int, height: int, max_pixels: int) -> str:
    """The skip reason of a ``width`` x ``height`` image above ``max_pixels`` (pixels)."""
    return (
        f"{width}x{height} = {width * height / 1e6:.1f} MP is above the pixel limit of "
        f"{max_pixels / 1e6:g} MP (not decoded)"
    )


def bomb_reason() -> str:
    """The skip reason of an image above PIL's decompression-bomb limit (2x MAX_IMAGE_PIXELS)."""
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return (
        f"header claims more than {limit / 1e6:g} MP, above the pixel limit "
        "(PIL's decompression-bomb check; not decoded)"
    )


def _composite_over_white(rgba: np.ndarray) -> np.ndarray:
    # Anime PNGs often carry transparency; white matches how they are displayed on web pages and
    # avoids the black halos that dropping alpha would leave around antialiased edges.
    rgb = rgba[..., :3].astype(np.uint32)
    alpha = rgba[..., 3:4].astype(np.uint32)
    out = (rgb * alpha + _WHITE * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map an integer or float single-channel array to uint8 by its value range."""
    if np.issubdtype(values.dtype, np.floating):
        finite = np.nan_to_num(values.astype(np.float64))
        lo, hi = float(finite.min()), float(finite.max())
        if lo >= 0.0 and hi <= 1.0:
            scaled = finite * 255.0
        else:
            scaled = (finite - lo) * (255.0 / max(hi - lo, 1e-12))
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    wide = values.astype(np.int64)
    lo, hi = int(wide.min()), int(wide.max())
    if lo >= 0 and hi <= 65535:
        # 16-bit container (I;16*, 16-bit PNG decoded as mode I): full range 0..65535 -> 0..255.
        return ((wide * 255 + 32767) // 65535).astype(np.uint8)
    return np.clip(np.rint((wide - lo) * (255.0 / max(hi - lo, 1))), 0, 255).astype(np.uint8)


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    has_transparency = "transparency" in img.info
    if mode == "RGB" and not has_transparency:
        return np.asarray(img, dtype=np.uint8).copy()
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        has_transparency and mode in ("P", "L", "RGB")
    ):
        return _composite_over_white(np.asarray(img.convert("RGBA"), dtype=np.uint8))
    if mode in ("L", "1", "P", "CMYK", "YCbCr", "RGBX"):
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    if mode.startswith("I") or mode == "F":
        gray = _scale_to_uint8(np.asarray(img))
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


# EXIF orientation tag value -> the transpose that displays the stored pixels upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _read_16bit_colour(path: Path, img: Image.Image) -> np.ndarray | None:
    """16-bit-per-channel RGB(A) PNG/TIFF decoded at full depth, as 8-bit RGB; else ``None``.

    PIL has no 48/64-bit mode: it keeps the high byte of each sample (``x >> 8``), which is up
    to one level off ``round(x * 255 / 65535)``, the scaling every other 16-bit image gets.
    OpenCV reads the full samples.
    """
    tile_args = img.tile[0].args if img.tile else None
    rawmode = tile_args[0] if isinstance(tile_args, tuple) and tile_args else tile_args
    if img.mode not in ("RGB", "RGBA") or not isinstance(rawmode, str) or ";16" not in rawmode:
        return None
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    samples = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if samples is None or samples.dtype != np.uint16 or samples.ndim != 3:
        return None
    if samples.shape[2] not in (3, 4) or samples.shape[:2] != (img.size[1], img.size[0]):
        return None
    wide = samples.astype(np.int64)
    scaled = ((wide * 255 + 32767) // 65535).astype(np.uint8)
    rgba = scaled[..., [2, 1, 0, 3]] if scaled.shape[2] == 4 else scaled[..., ::-1]
    return _composite_over_white(rgba) if rgba.shape[2] == 4 else np.ascontiguousarray(rgba)


def _orient(rgb: np.ndarray, img: Image.Image) -> np.ndarray:
    method = _ORIENTATION.get(img.getexif().get(0x0112, 1))
    if method is None:
        return rgb
    return np.asarray(Image.fromarray(rgb).transpose(method)).copy()


def read_image_rgb(
    path: str | os.PathLike[str],
    min_size: int | None = None,
    *,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Decode an image file by content into 8-bit RGB.

    The format is sniffed from the bytes (a PNG named ``.jpg`` works), EXIF orientation is
    applied, and every pixel mode is mapped to RGB: grayscale and 1-bit are copied to three
    channels; images with alpha (RGBA, LA, palette with transparency) are composited over white;
    16-bit images (gray, and RGB/RGBA PNG or TIFF read at full depth) are scaled by value
    range (``round(x * 255 / 65535)``, so 65535 -> 255 and 32768 -> 128) instead of PIL's
    clipping or high-byte conversion; CMYK is converted to RGB. Multi-frame
    files (GIF, TIFF) give their first frame.

    Args:
        path: image file.
        min_size: if given, a large JPEG may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg DCT
            scaling, much faster) as long as its shorter side stays >= ``min_size``. Other
            formats are always decoded at full size.
        max_pixels: refuse, from the header and before decoding, an image whose stored
            width x height exceeds this many pixels; ``None``: no limit beyond PIL's own.

    Returns:
        ``[H, W, 3]`` uint8 array, RGB order, values 0..255, C-contiguous.

    Raises:
        ImageTooLargeError: the image is above ``max_pixels`` (or PIL's bomb limit).
        ImageDecodeError: the file is missing, empty, truncated, corrupt, not a regular file
            or not an image.
    """
    path = Path(path)
    problem = entry_problem(path)
    if problem is not None:  # before opening: a named pipe would block
        raise ImageDecodeError(f"cannot decode image {path}: {problem}")
    try:
        with Image.open(path) as img:
            width, height = img.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageTooLargeError(
                    f"cannot decode image {path}: {too_large_reason(width, height, max_pixels)}"
                )
            wide = _read_16bit_colour(path, img)
            if wide is not None:
                rgb = _orient(wide, img)
            else:
                if min_size is not None:
                    img.draft("RGB", (min_size, min_size))
                img.load()
                oriented = ImageOps.exif_transpose(img)
                rgb = _to_rgb_array(oriented)
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"cannot decode image {path}: {bomb_reason()}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        reason = decode_failure_reason(path, exc)
        raise ImageDecodeError(f"cannot decode image {path}: {reason}") from exc
    return np.ascontiguousarray(rgb)


@dataclass(frozen=True)
class FolderListing:
    """Outcome of :func:`list_image_files`.

    Attributes:
        files: regular files (or links to one) to decode, sorted.
        skipped: ``(path, reason)`` of entries that are not regular files (dangling link, link
            loop, pipe, socket, device, a folder named like an image), sorted; never opened.
    """

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


_FOLDER_LIKE_IMAGE = "a folder named like an image, not an image file"


def list_image_files(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = False,
    suffixes: Collection[str] | None = None,
) -> FolderListing:
    """List the files of a folder to decode, without opening any entry.

    Hidden entries (any name on the way below ``folder`` starting with ``.``, e.g. macOS
    ``._photo.jpg`` or ``.thumbnails/``) are ignored. With ``suffixes``, only entries whose
    lower-cased suffix is in it are considered; without, every entry is (its content decides).
    Sub-folders are descended when ``recursive``; otherwise a sub-folder named like an image
    (``album.jpg/``) is skipped with a reason and any other is ignored (e.g. ``smooth/`` beside
    ``style/``). Dangling links, link loops, pipes, sockets and devices are skipped with a reason
    (opening a pipe would block forever).

    Args:
        folder: an existing folder.
        recursive: also list sub-folders (paths keep their sub-folder).
        suffixes: lower-case suffixes with the dot to consider (e.g. :func:`image_suffixes`);
            ``None``: every non-hidden entry.

    Returns:
        :class:`FolderListing` with the sorted files and the sorted skipped entries.
    """
    folder = Path(folder)
    wanted = None if suffixes is None else frozenset(s.lower() for s in suffixes)
    folder_like = image_suffixes() if wanted is None else wanted
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in candidates:
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        suffix = path.suffix.lower()
        if wanted is not None and suffix not in wanted:
            continue
        problem = entry_problem(path)
        if problem is None:
            files.append(path)
        elif problem.startswith("a folder"):
            if not recursive and suffix in folder_like:
                skipped.append((path, _FOLDER_LIKE_IMAGE))
        else:
            skipped.append((path, problem))
    return FolderListing(files=sorted(files), skipped=sorted(skipped))
