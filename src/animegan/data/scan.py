"""Scanning dataset folders: every file judged by decoding it, verdicts cached per file.

:func:`scan_image_folder` lists a folder with :func:`animegan.data.decode.list_image_files` and
decodes every file (JPEGs at reduced DCT scale); files that do not decode, images above the
pixel limit (read from the header, never decoded), dangling links, pipes and folders named like
images are skipped and listed with a reason (:attr:`ScanResult.skipped`), never silently. The
verdicts are cached outside the data folder (:func:`default_cache_dir`).
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

from PIL import Image

from animegan.data.decode import (
    DEFAULT_MAX_PIXELS,
    DatasetNotFoundError,
    bomb_reason,
    decode_failure_reason,
    list_image_files,
    too_large_reason,
)

__all__ = [
    "ImagePaths",
    "ScanResult",
    "default_cache_dir",
    "scan_image_folder",
    "warn_skipped",
]

# v2: entries are [size, mtime_ns, verdict, width, height]; the pixel limit is applied on lookup.
_SCAN_CACHE_VERSION = 2
# Verdict of a file whose header was read but whose pixels were not decoded (it was above the
# pixel limit of that scan): a later scan with a higher limit decodes it.
_NOT_DECODED = "\0not decoded"
# Side length the JPEG decoder is asked to scale down to during a scan: libjpeg still reads
# (and entropy-decodes) the whole stream, so truncation is caught, but skips most of the IDCT work.
_SCAN_DRAFT_SIZE = (64, 64)


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
        return bomb_reason(), None, None
    except (OSError, SyntaxError, ValueError) as exc:
        return decode_failure_reason(path, exc), width, height
    return None, width, height


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
    listing = list_image_files(folder, recursive=recursive)
    files, odd = listing.files, listing.skipped

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
