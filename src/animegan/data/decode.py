"""Decoding image files by content and scanning image folders.

Every file in a dataset folder is judged by what it contains, never by its extension: the
selfie2anime anime set, for example, holds PNG files named ``*.jpg``. Files that cannot be decoded
(zero bytes, truncated, not an image), images above a pixel limit (read from the header, never
decoded), dangling symbolic links, pipes and folders named like images are skipped and listed
with a reason, not fatal and never silent.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DatasetNotFoundError",
    "ImageDecodeError",
    "ImagePaths",
    "ImageTooLargeError",
    "ScanResult",
    "default_cache_dir",
    "entry_problem",
    "image_header_size",
    "read_image_rgb",
    "scan_image_folder",
    "too_large_reason",
    "warn_skipped",
]

# Default pixel limit of training, evaluation and stylize (50 MP, e.g. 8660 x 5773). PIL only
# warns above 89.5 MP and refuses above 179 MP; decoding a 12000 x 12000 image to RGB takes 432 MB
# (plus the resize), whatever its file size (a 1-bit PNG of that size is 80 KB).
DEFAULT_MAX_PIXELS = 50_000_000

# v2: entries are [size, mtime_ns, verdict, width, height]; the pixel limit is applied on lookup.
_SCAN_CACHE_VERSION = 2
# Verdict of a file whose header was read but whose pixels were not decoded (it was above the
# pixel limit of that scan): a later scan with a higher limit decodes it.
_NOT_DECODED = "\0not decoded"
# Side length the JPEG decoder is asked to scale down to during a scan: libjpeg still reads
# (and entropy-decodes) the whole stream, so truncation is caught, but skips most of the IDCT work.
_SCAN_DRAFT_SIZE = (64, 64)
_WHITE = 255


class ImageDecodeError(ValueError):
    """A file could not be decoded as an image; the message names the path and the reason."""


class ImageTooLargeError(ImageDecodeError):
    """An image's header gives more pixels than the limit; its pixels were not decoded."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder is missing, empty, or laid out in a way this package does not know."""


class ImagePaths(list):  # list[Path]
    """The usable images of a scan, as a plain list of paths, carrying what the scan left out.

    Code that only needs the paths uses it as a list; code that reports on its inputs (the
    evaluator's ``metrics.json``) reads :attr:`skipped` and :attr:`found`, so a file left out is
    never dropped without a record even where only the list is passed on. Slicing or copying
    gives a plain list.

    Attributes:
        folder: the scanned folder (``None`` when not from one folder).
        skipped: ``(path, reason)`` of every entry left out.
        found: entries considered (usable + skipped); hidden files are not counted.
    """

    def __init__(
        self,
        paths: Sequence[Path] = (),
        *,
        folder: Path | None = None,
        skipped: Sequence[tuple[Path, str]] = (),
        found: int | None = None,
    ) -> None:
        super().__init__(paths)
        self.folder = folder
        self.skipped = list(skipped)
        self.found = len(self) + len(self.skipped) if found is None else int(found)


@dataclass(frozen=True)
class ScanResult:
    """Outcome of :func:`scan_image_folder`.

    Attributes:
        folder: the scanned folder.
        paths: usable image files, sorted (an :class:`ImagePaths` carrying ``skipped``).
        skipped: ``(path, reason)`` for every entry left out (undecodable, above the pixel
            limit, dangling link, pipe, folder named like an image), sorted by path.
    """

    folder: Path
    paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def found(self) -> int:
        """Entries considered: usable images plus skipped entries (hidden files not counted)."""
        return len(self.paths) + len(self.skipped)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/animegan`` (default ``~/.cache/animegan``): never inside a data folder."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "animegan"


def _decode_failure_reason(path: Path, exc: BaseException) -> str:
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


def _image_suffixes() -> frozenset[str]:
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
        raise ImageTooLargeError(f"cannot decode image {path}: {_bomb_reason()}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(
            f"cannot decode image {path}: {_decode_failure_reason(path, exc)}"
        ) from exc


def too_large_reason(width: int, height: int, max_pixels: int) -> str:
    """The skip reason of a ``width`` x ``height`` image above ``max_pixels`` (pixels)."""
    return (
        f"{width}x{height} = {width * height / 1e6:.1f} MP is above the pixel limit of "
        f"{max_pixels / 1e6:g} MP (not decoded)"
    )


def _bomb_reason() -> str:
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
        raise ImageTooLargeError(f"cannot decode image {path}: {_bomb_reason()}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        reason = _decode_failure_reason(path, exc)
        raise ImageDecodeError(f"cannot decode image {path}: {reason}") from exc
    return np.ascontiguousarray(rgb)


def _check_decodable(
    path: Path, max_pixels: int | None = None
) -> tuple[str | None, int | None, int | None]:
    """Judge one file: ``(verdict, width, height)``.

    ``verdict`` is ``None`` when the file decodes, :data:`_NOT_DECODED` when its header gives
    more than ``max_pixels`` pixels (the pixels are then never decoded), else the reason it does
    not decode. ``width``/``height`` come from the header (``None`` when it is unreadable).
    """
    width = height = None
    try:
        with Image.open(path) as img:
            width, height = img.size
            if max_pixels is not None and width * height > max_pixels:
                return _NOT_DECODED, width, height
            img.draft("RGB", _SCAN_DRAFT_SIZE)
            img.load()
    except Image.DecompressionBombError:
        return _bomb_reason(), None, None
    except (OSError, SyntaxError, ValueError) as exc:
        return _decode_failure_reason(path, exc), width, height
    return None, width, height


def _list_entries(folder: Path, recursive: bool) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Regular files to judge, and entries that are skipped without being opened.

    Hidden entries are ignored. Sub-folders are descended when ``recursive``; otherwise a
    sub-folder named like an image (``album.jpg/``) is listed as skipped, any other is ignored
    (e.g. ``smooth/`` beside ``style/``). Dangling links, link loops, pipes, sockets and devices
    are listed as skipped.
    """
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    suffixes = _image_suffixes()
    files: list[Path] = []
    odd: list[tuple[Path, str]] = []
    for p in candidates:
        rel_parts = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        problem = entry_problem(p)
        if problem is None:
            files.append(p)
        elif problem.startswith("a folder"):
            if not recursive and p.suffix.lower() in suffixes:
                odd.append((p, "a folder named like an image, not an image file"))
        else:
            odd.append((p, problem))
    return sorted(files), sorted(odd)


def _describe_unusable(skipped: Sequence[tuple[Path, str]], max_names: int = 3) -> str:
    named = "; ".join(f"{path.name}: {reason}" for path, reason in skipped[:max_names])
    more = f"; ... and {len(skipped) - max_names} more" if len(skipped) > max_names else ""
    return f"{named}{more}"


def _cache_file(cache_dir: Path, folder: Path) -> Path:
    digest = hashlib.sha1(str(folder.resolve()).encode("utf-8")).hexdigest()[:16]
    return cache_dir / "scan" / f"{digest}.json"


def _load_cache(cache_file: Path) -> dict[str, list]:
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _SCAN_CACHE_VERSION:
        return {}
    entries = data.get("entries", {})
    return entries if isinstance(entries, dict) else {}


def _write_json_atomic(target: Path, payload: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename so a concurrent reader (another rank, a dataloader worker) never sees a
    # half-written file.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def scan_image_folder(
    folder: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    role: str = "images",
    recursive: bool = False,
    num_threads: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> ScanResult:
    """List the decodable images in a folder, judging every file by its content.

    Each regular, non-hidden file is opened and decoded (JPEGs at reduced DCT scale, which still
    reads the whole stream, so truncated files are caught); an image whose header gives more
    than ``max_pixels`` pixels is skipped without decoding its pixels. Dangling symbolic links,
    link loops, pipes and (non-recursive) folders named like images are skipped without being
    opened. Every skipped entry is listed with its reason. The verdict per file is cached under
    ``cache_dir`` keyed by (absolute path, size, mtime_ns), so a 6,000-image folder is decoded
    once. Nothing is ever written into ``folder``.

    Args:
        folder: folder holding the images (flat, like the official dataset folders).
        cache_dir: where to keep the verdict cache; ``None`` disables caching.
        role: what the folder should hold, used in error messages (e.g. ``"training photos"``).
        recursive: also scan sub-folders.
        num_threads: decoding threads (PIL releases the GIL while decoding); default
            ``min(8, os.cpu_count())``.
        max_pixels: skip images whose stored width x height exceeds this (pixels), read from
            the header; ``None``: no limit beyond PIL's own.

    Returns:
        :class:`ScanResult` with the sorted valid paths and the skipped entries with reasons.

    Raises:
        DatasetNotFoundError: the folder does not exist, is not a folder, or holds no decodable
            image (the message says what it does hold).
    """
    if max_pixels is not None and max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1 or None, got {max_pixels}")
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DatasetNotFoundError(
            f"{role} folder {folder} {what}. Put the {role} there as image files "
            "(JPEG, PNG, WebP, BMP, ...), or point the data config at the right folder."
        )
    files, odd = _list_entries(folder, recursive)

    cache_file = _cache_file(Path(cache_dir).expanduser(), folder) if cache_dir else None
    cached = _load_cache(cache_file) if cache_file else {}
    entries: dict[str, list] = {}
    verdicts: dict[Path, str | None] = {}
    to_check: list[tuple[Path, str, int, int]] = []
    for path in files:
        try:
            key = str(path.resolve())
            info = path.stat()
        except OSError as error:  # removed or replaced while the folder was listed
            verdicts[path] = f"cannot read ({error.strerror or error})"
            continue
        hit = cached.get(key)
        fresh = hit is not None and len(hit) == 5 and hit[:2] == [info.st_size, info.st_mtime_ns]
        if fresh and _too_large(hit[3], hit[4], max_pixels):
            verdicts[path] = too_large_reason(hit[3], hit[4], max_pixels)
            entries[key] = hit
        elif fresh and hit[2] != _NOT_DECODED:
            verdicts[path] = hit[2]
            entries[key] = hit
        else:
            to_check.append((path, key, info.st_size, info.st_mtime_ns))

    if to_check:
        workers = num_threads or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            checks = list(
                pool.map(lambda p: _check_decodable(p, max_pixels), [c[0] for c in to_check])
            )
        for (path, key, size, mtime_ns), (verdict, width, height) in zip(
            to_check, checks, strict=True
        ):
            entries[key] = [size, mtime_ns, verdict, width, height]
            if verdict == _NOT_DECODED:
                assert width is not None and height is not None and max_pixels is not None
                verdict = too_large_reason(width, height, max_pixels)
            verdicts[path] = verdict
        if cache_file is not None:
            _write_json_atomic(cache_file, {"version": _SCAN_CACHE_VERSION, "entries": entries})

    usable = [p for p in files if verdicts[p] is None]
    skipped = sorted([(p, str(verdicts[p])) for p in files if verdicts[p] is not None] + odd)
    if not usable:
        detail = (
            f"; all {len(skipped)} entries there were left out: {_describe_unusable(skipped)}"
            if skipped
            else " (the folder is empty)"
            if not any(folder.iterdir())
            else " (it holds no image files, only hidden files or sub-folders)"
        )
        raise DatasetNotFoundError(
            f"no usable {role} in {folder}{detail}. Put the {role} there as image files."
        )
    paths = ImagePaths(usable, folder=folder, skipped=skipped)
    return ScanResult(folder=folder, paths=paths, skipped=skipped)


def _too_large(width: int | None, height: int | None, max_pixels: int | None) -> bool:
    return (
        max_pixels is not None
        and width is not None
        and height is not None
        and width * height > max_pixels
    )


def warn_skipped(
    skipped: Sequence[tuple[Path, str]],
    logger: logging.Logger,
    max_names: int = 20,
    *,
    left_out_of: str = "the dataset",
) -> None:
    """Log one warning listing the files that were skipped, if any.

    Args:
        skipped: ``(path, reason)`` pairs, e.g. concatenated :attr:`ScanResult.skipped` lists.
        logger: where to log.
        max_names: how many files to name before summarising the rest as ``... and N more``.
        left_out_of: what they were left out of, for the message (e.g. ``"the evaluation"``).
    """
    if not skipped:
        return
    lines = [f"  {path}: {reason}" for path, reason in list(skipped)[:max_names]]
    if len(skipped) > max_names:
        lines.append(f"  ... and {len(skipped) - max_names} more")
    logger.warning(
        "Skipped %d file(s) (left out of %s, not modified):\n%s",
        len(skipped),
        left_out_of,
        "\n".join(lines),
    )
