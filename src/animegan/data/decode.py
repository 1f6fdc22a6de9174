"""Decoding image files by content and scanning image folders.

Every file in a dataset folder is judged by what it contains, never by its extension: the
selfie2anime anime set, for example, holds PNG files named ``*.jpg``. Files that cannot be decoded
(zero bytes, truncated, not an image) are skipped and reported once, not fatal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DatasetNotFoundError",
    "ImageDecodeError",
    "ScanResult",
    "default_cache_dir",
    "read_image_rgb",
    "scan_image_folder",
    "warn_skipped",
]

_SCAN_CACHE_VERSION = 1
# Side length the JPEG decoder is asked to scale down to during a scan: libjpeg still reads
# (and entropy-decodes) the whole stream, so truncation is caught, but skips most of the IDCT work.
_SCAN_DRAFT_SIZE = (64, 64)
_WHITE = 255


class ImageDecodeError(ValueError):
    """A file could not be decoded as an image; the message names the path and the reason."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset folder is missing, empty, or laid out in a way this package does not know."""


@dataclass(frozen=True)
class ScanResult:
    """Outcome of :func:`scan_image_folder`.

    Attributes:
        folder: the scanned folder.
        paths: decodable image files, sorted.
        skipped: ``(path, reason)`` for every file that could not be decoded, sorted by path.
    """

    folder: Path
    paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/animegan`` (default ``~/.cache/animegan``): never inside a data folder."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "animegan"


def _decode_failure_reason(path: Path, exc: BaseException) -> str:
    if not path.exists():
        return "file does not exist"
    if path.is_file() and path.stat().st_size == 0:
        return "empty file (0 bytes)"
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image format"
    return str(exc) or type(exc).__name__


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


def read_image_rgb(path: str | os.PathLike[str], min_size: int | None = None) -> np.ndarray:
    """Decode an image file by content into 8-bit RGB.

    The format is sniffed from the bytes (a PNG named ``.jpg`` works), EXIF orientation is
    applied, and every pixel mode is mapped to RGB: grayscale and 1-bit are copied to three
    channels; images with alpha (RGBA, LA, palette with transparency) are composited over white;
    16-bit images are scaled by value range (``round(x * 255 / 65535)``, so 65535 -> 255 and
    32768 -> 128) instead of PIL's clipping conversion; CMYK is converted to RGB. Multi-frame
    files (GIF, TIFF) give their first frame.

    Args:
        path: image file.
        min_size: if given, a large JPEG may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg DCT
            scaling, much faster) as long as its shorter side stays >= ``min_size``. Other
            formats are always decoded at full size.

    Returns:
        ``[H, W, 3]`` uint8 array, RGB order, values 0..255, C-contiguous.

    Raises:
        ImageDecodeError: the file is missing, empty, truncated, corrupt or not an image.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            if min_size is not None:
                img.draft("RGB", (min_size, min_size))
            img.load()
            oriented = ImageOps.exif_transpose(img)
            rgb = _to_rgb_array(oriented)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        reason = _decode_failure_reason(path, exc)
        raise ImageDecodeError(f"cannot decode image {path}: {reason}") from exc
    return np.ascontiguousarray(rgb)


def _check_decodable(path: Path) -> str | None:
    """Return ``None`` when ``path`` decodes, else the reason it does not."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", _SCAN_DRAFT_SIZE)
            img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return _decode_failure_reason(path, exc)
    return None


def _list_files(folder: Path, recursive: bool) -> list[Path]:
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    files = []
    for p in candidates:
        rel_parts = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        if p.is_file():
            files.append(p)
    return sorted(files)


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
) -> ScanResult:
    """List the decodable images in a folder, judging every file by its content.

    Each regular, non-hidden file is opened and decoded (JPEGs at reduced DCT scale, which still
    reads the whole stream, so truncated files are caught). The verdict per file is cached under
    ``cache_dir`` keyed by (absolute path, size, mtime_ns), so a 6,000-image folder is decoded
    once. Nothing is ever written into ``folder``.

    Args:
        folder: folder holding the images (flat, like the official dataset folders).
        cache_dir: where to keep the verdict cache; ``None`` disables caching.
        role: what the folder should hold, used in error messages (e.g. ``"training photos"``).
        recursive: also scan sub-folders.
        num_threads: decoding threads (PIL releases the GIL while decoding); default
            ``min(8, os.cpu_count())``.

    Returns:
        :class:`ScanResult` with the sorted valid paths and the skipped files with reasons.

    Raises:
        DatasetNotFoundError: the folder does not exist, is not a folder, or holds no decodable
            image.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise DatasetNotFoundError(
            f"{role} folder {folder} {what}. Put the {role} there as image files "
            "(JPEG, PNG, WebP, BMP, ...), or point the data config at the right folder."
        )
    files = _list_files(folder, recursive)

    cache_file = _cache_file(Path(cache_dir).expanduser(), folder) if cache_dir else None
    cached = _load_cache(cache_file) if cache_file else {}
    entries: dict[str, list] = {}
    verdicts: dict[Path, str | None] = {}
    to_check: list[tuple[Path, str, int, int]] = []
    for path in files:
        key = str(path.resolve())
        stat = path.stat()
        hit = cached.get(key)
        if hit is not None and hit[0] == stat.st_size and hit[1] == stat.st_mtime_ns:
            verdicts[path] = hit[2]
            entries[key] = hit
        else:
            to_check.append((path, key, stat.st_size, stat.st_mtime_ns))

    if to_check:
        workers = num_threads or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            reasons = list(pool.map(_check_decodable, [item[0] for item in to_check]))
        for (path, key, size, mtime_ns), reason in zip(to_check, reasons, strict=True):
            verdicts[path] = reason
            entries[key] = [size, mtime_ns, reason]
        if cache_file is not None:
            _write_json_atomic(cache_file, {"version": _SCAN_CACHE_VERSION, "entries": entries})

    paths = [p for p in files if verdicts[p] is None]
    skipped = [(p, str(verdicts[p])) for p in files if verdicts[p] is not None]
    if not paths:
        detail = (
            f"; all {len(skipped)} files there were unreadable (first: {skipped[0][0].name}: "
            f"{skipped[0][1]})"
            if skipped
            else " (the folder is empty)"
        )
        raise DatasetNotFoundError(
            f"no decodable {role} in {folder}{detail}. Put the {role} there as image files."
        )
    return ScanResult(folder=folder, paths=paths, skipped=skipped)


def warn_skipped(
    skipped: Sequence[tuple[Path, str]], logger: logging.Logger, max_names: int = 20
) -> None:
    """Log one warning listing the files that were skipped, if any.

    Args:
        skipped: ``(path, reason)`` pairs, e.g. concatenated :attr:`ScanResult.skipped` lists.
        logger: where to log.
        max_names: how many files to name before summarising the rest as ``... and N more``.
    """
    if not skipped:
        return
    lines = [f"  {path}: {reason}" for path, reason in list(skipped)[:max_names]]
    if len(skipped) > max_names:
        lines.append(f"  ... and {len(skipped) - max_names} more")
    logger.warning(
        "Skipped %d unreadable file(s) (left out of the dataset, not modified):\n%s",
        len(skipped),
        "\n".join(lines),
    )
