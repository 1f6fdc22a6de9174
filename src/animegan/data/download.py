"""Download the official AnimeGANv2 training data (needs internet access to github.com).

The photos (``train_photo/``, ``val/``, ``test/``) come from the AnimeGAN ``dataset-1`` release;
the v2 style sets (``<Style>/style/`` and ``<Style>/smooth/``) from the AnimeGANv2 ``1.0`` release.
They are extracted into ``dest`` in the official layout that :func:`resolve_layout` reads. The data
is licensed for non-commercial use only.

Usage: ``python -m animegan.data.download --dest data --styles Hayao Shinkai Paprika``
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from animegan.data.scan import default_cache_dir, scan_image_folder
from animegan.data.smoothing import SmoothCache

__all__ = [
    "DownloadError",
    "PHOTOS_URL",
    "STYLE_URL_TEMPLATE",
    "download_official_dataset",
    "main",
]

log = logging.getLogger(__name__)

PHOTOS_URL = "https://github.com/TachibanaYoshino/AnimeGAN/releases/download/dataset-1/dataset.zip"
STYLE_URL_TEMPLATE = (
    "https://github.com/TachibanaYoshino/AnimeGANv2/releases/download/1.0/{style}.tar.gz"
)
DEFAULT_STYLES = ("Hayao", "Shinkai", "Paprika")
# Folders taken from the photo archive. Its v1 style folders (Hayao, ..., SummerWar) are not
# used: the v2 style archives replace them.
_PHOTO_FOLDERS = ("train_photo", "val", "test")
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """The official dataset could not be fetched; the message says how to get it by hand."""


def _manual_instructions(dest: Path, urls: Sequence[str], styles: Sequence[str]) -> str:
    style_lines = "\n".join(
        f"    {dest}/{s}/style/    {dest}/{s}/smooth/   (from {s}.tar.gz)" for s in styles
    )
    return (
        "Download these files on a machine with internet access:\n"
        + "\n".join(f"    {u}" for u in urls)
        + f"\nand arrange them as (official layout):\n"
        f"    {dest}/train_photo/   (from dataset.zip)\n"
        f"    {dest}/val/           (from dataset.zip)\n"
        f"    {dest}/test/          (from dataset.zip)\n"
        f"{style_lines}\n"
        "Any folder with photo/ and anime/ sub-folders works too (plain layout), and "
        "AnimeGANDataModule(builtin=True) trains on an embedded quickstart set with no download."
    )


def _fetch(url: str, target: Path, timeout: float, instructions: str) -> None:
    from tqdm.auto import tqdm

    try:
        response = urlopen(url, timeout=timeout)
    except HTTPError as exc:  # reached the server, which refused: not a connectivity problem
        raise DownloadError(
            f"cannot download {url}: the server answered HTTP {exc.code} {exc.reason}.\n"
            f"{instructions}"
        ) from exc
    except (URLError, TimeoutError, ConnectionError) as exc:
        raise DownloadError(
            f"cannot download {url}: this machine cannot reach github.com ({exc}).\n{instructions}"
        ) from exc
    with response, target.open("wb") as out:
        length = getattr(response, "headers", {}).get("Content-Length")
        total = int(length) if length and str(length).isdigit() else None
        with tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (URLError, TimeoutError, ConnectionError) as exc:
                    raise DownloadError(
                        f"download of {url} was interrupted ({exc}); run it again.\n{instructions}"
                    ) from exc
                if not chunk:
                    break
                out.write(chunk)
                bar.update(len(chunk))


def _safe_members_zip(archive: zipfile.ZipFile, dest: Path) -> None:
    root = dest.resolve()
    for name in archive.namelist():
        target = (dest / name).resolve()
        if target != root and root not in target.parents:
            raise DownloadError(f"refusing to extract {name!r}: it points outside {dest}")


def _find_dir_containing(base: Path, child: str, max_depth: int = 3) -> Path | None:
    """Shallowest folder under ``base`` (itself included) that has a sub-folder ``child``."""
    frontier = [base]
    for _ in range(max_depth + 1):
        for folder in frontier:
            if (folder / child).is_dir():
                return folder
        frontier = [p for f in frontier for p in sorted(f.iterdir()) if p.is_dir()]
    return None


def _find_style_dir(base: Path, style: str) -> Path | None:
    """The extracted folder holding ``style/`` for this style (tolerates a wrapper folder)."""
    if (base / style / "style").is_dir():
        return base / style
    return _find_dir_containing(base, "style")


def _is_complete(dest: Path, styles: Sequence[str]) -> bool:
    return (dest / "train_photo").is_dir() and all((dest / s / "style").is_dir() for s in styles)


def download_official_dataset(
    dest: str | os.PathLike[str],
    styles: Sequence[str] = DEFAULT_STYLES,
    timeout: float = 30,
    force: bool = False,
    photos_url: str = PHOTOS_URL,
    style_url_template: str = STYLE_URL_TEMPLATE,
    cache_dir: str | os.PathLike[str] | None = None,
    image_size: int = 256,
) -> Path:
    """Download and extract the official photos and style sets into ``dest``.

    Archives are downloaded and unpacked in a temporary folder next to ``dest`` and moved in only
    when everything succeeded. Afterwards every folder is scanned and the smooth cache is filled
    for anime images without an official smooth file, so the first training run starts at once.

    Args:
        dest: target folder (official layout is created inside).
        styles: style sets to fetch (``Hayao``, ``Shinkai``, ``Paprika``).
        timeout: socket timeout per request, in seconds.
        force: replace the contents of a non-empty ``dest``.
        photos_url: URL of the photo archive (a ``file://`` URL works for local copies).
        style_url_template: URL of each style archive, with ``{style}`` in it.
        cache_dir: cache root for scans and smooth images (default ``~/.cache/animegan``).
        image_size: training shorter side the smooth cache is prepared for.

    Returns:
        ``dest``.

    Raises:
        DownloadError: a URL cannot be reached (no internet) or an archive is not as expected.
        FileExistsError: ``dest`` is non-empty, not already complete, and ``force`` is False.
    """
    dest = Path(dest).expanduser()
    styles = list(styles)
    urls = [photos_url] + [style_url_template.format(style=s) for s in styles]
    instructions = _manual_instructions(dest, urls, styles)
    if dest.is_dir() and any(dest.iterdir()) and not force:
        if _is_complete(dest, styles):
            log.info("%s already holds the official dataset; nothing to download", dest)
            return dest
        raise FileExistsError(
            f"{dest} is not empty; pass force=True (--force) to replace its contents, "
            "or choose another --dest"
        )

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.download-", dir=dest.parent))
    try:
        zip_path = staging / "dataset.zip"
        _fetch(photos_url, zip_path, timeout, instructions)
        unpacked = staging / "photos"
        try:
            with zipfile.ZipFile(zip_path) as archive:
                _safe_members_zip(archive, unpacked)
                archive.extractall(unpacked)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"{photos_url} is not a valid zip archive: {exc}") from exc
        zip_path.unlink()
        photo_root = _find_dir_containing(unpacked, "train_photo")
        if photo_root is None:
            raise DownloadError(f"{photos_url} has no train_photo/ folder.\n{instructions}")

        ready = staging / "ready"
        ready.mkdir()
        for name in _PHOTO_FOLDERS:
            if (photo_root / name).is_dir():
                os.replace(photo_root / name, ready / name)

        for style in styles:
            url = style_url_template.format(style=style)
            tar_path = staging / f"{style}.tar.gz"
            _fetch(url, tar_path, timeout, instructions)
            style_unpacked = staging / f"unpacked_{style}"
            try:
                with tarfile.open(tar_path) as archive:
                    archive.extractall(style_unpacked, filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise DownloadError(f"{url} could not be extracted: {exc}") from exc
            tar_path.unlink()
            style_root = _find_style_dir(style_unpacked, style)
            if style_root is None:
                raise DownloadError(f"{url} has no {style}/style/ folder.\n{instructions}")
            os.replace(style_root, ready / style)

        if dest.exists():
            shutil.rmtree(dest)
        os.replace(ready, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    for folder in [dest / "train_photo", dest / "val"]:
        if folder.is_dir():
            scan_image_folder(folder, cache, role="photos")
    for style in styles:
        anime = scan_image_folder(dest / style / "style", cache, role=f"{style} anime images")
        smooth_dir = dest / style / "smooth"
        SmoothCache(cache, image_size, smooth_dir if smooth_dir.is_dir() else None).prepare(
            anime.paths
        )
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m animegan.data.download [--dest data] [--styles ...] [--force]``.

    Returns:
        Process exit status: 0 on success, 1 on a download or layout problem.
    """
    parser = argparse.ArgumentParser(
        prog="python -m animegan.data.download",
        description="Download the official AnimeGANv2 dataset (non-commercial licence).",
    )
    parser.add_argument("--dest", type=Path, default=Path("data"), help="target folder")
    parser.add_argument("--styles", nargs="+", default=list(DEFAULT_STYLES), help="style sets")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --dest")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--cache-dir", type=Path, default=None, help="scan/smooth cache root")
    parser.add_argument("--image-size", type=int, default=256, help="smooth cache resolution")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        download_official_dataset(
            args.dest,
            styles=args.styles,
            timeout=args.timeout,
            force=args.force,
            cache_dir=args.cache_dir,
            image_size=args.image_size,
        )
    except (DownloadError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"official dataset ready in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
