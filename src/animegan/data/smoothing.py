"""Grayscale conversion, shorter-side resizing and the official edge smoothing, with a disk cache.

The discriminator of AnimeGANv2 is shown the grayscale of an *edge-smoothed* anime image as a
negative example, so it learns that blurred outlines are not anime. Smoothing follows the official
``tools/edge_smooth.py`` (from CartoonGAN-Tensorflow): Canny(100, 200) on gray, dilate with a 5x5
ones kernel, and replace only the masked pixels by a 5x5 Gaussian of the reflect-padded image.
Two deliberate differences from the official script: the image keeps its aspect ratio (shorter
side resized to the training size instead of squashing to 256x256), and Canny runs on the luma of
the resized RGB image rather than on a separately decoded and resized gray file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from animegan.data.decode import ImageDecodeError, read_image_rgb

__all__ = ["SmoothCache", "edge_smooth", "resize_shorter_side", "to_gray3"]

# Integer taps of cv2.getGaussianKernel(5, 0) = [1, 4, 6, 4, 1] / 16 (OpenCV's fixed table for
# ksize 5 with sigma <= 0). Their outer product sums to 256, so the blur is exact in integers.
_GAUSS_TAPS = np.array([1, 4, 6, 4, 1], dtype=np.int32)
_GAUSS_NORM_SHIFT = 8
_DILATE_KERNEL = np.ones((5, 5), np.uint8)
_CANNY_LOW, _CANNY_HIGH = 100, 200


def to_gray3(image_rgb: np.ndarray) -> np.ndarray:
    """OpenCV luma of an RGB image, copied to three channels.

    Args:
        image_rgb: ``[H, W, 3]`` uint8, RGB order.

    Returns:
        ``[H, W, 3]`` uint8 with three equal channels, ``Y = 0.299 R + 0.587 G + 0.114 B``
        (OpenCV's rounding).
    """
    gray = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY)
    # cvtColor GRAY2RGB copies the plane with SIMD: ~30x faster than np.repeat at 256x256.
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def resize_shorter_side(image: np.ndarray, size: int) -> np.ndarray:
    """Resize so that the shorter side equals ``size``, keeping the aspect ratio.

    Uses ``cv2.INTER_AREA`` when shrinking (no aliasing) and ``cv2.INTER_CUBIC`` when enlarging.
    The longer side is rounded to the nearest pixel and never drops below ``size``.

    Args:
        image: ``[H, W, C]`` or ``[H, W]`` uint8.
        size: target shorter side in pixels, > 0.

    Returns:
        The resized image (the input itself when its shorter side already equals ``size``).
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    h, w = image.shape[:2]
    short = min(h, w)
    if short == size:
        return image
    if h <= w:
        new_h, new_w = size, max(size, round(w * size / h))
    else:
        new_h, new_w = max(size, round(h * size / w)), size
    interpolation = cv2.INTER_AREA if short > size else cv2.INTER_CUBIC
    return cv2.resize(image, (new_w, new_h), interpolation=interpolation)


def _gaussian5_floor(image: np.ndarray) -> np.ndarray:
    """5x5 Gaussian of the reflect-padded image, truncated to uint8 like the official loop.

    The official code assigns ``sum(patch * kernel)`` (float64) into a uint8 array, which truncates.
    All kernel weights are multiples of 1/256, so the integer form below is bit-identical.
    """
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="reflect").astype(np.int32)
    h, w = image.shape[:2]
    rows = sum(int(t) * padded[i : i + h] for i, t in enumerate(_GAUSS_TAPS))  # [H, W+4, C]
    full = sum(int(t) * rows[:, i : i + w] for i, t in enumerate(_GAUSS_TAPS))  # [H, W, C]
    return (full >> _GAUSS_NORM_SHIFT).astype(np.uint8)


def edge_smooth(image_rgb: np.ndarray) -> np.ndarray:
    """Blur only the pixels around strong edges (official AnimeGANv2 recipe, vectorised).

    Args:
        image_rgb: ``[H, W, 3]`` uint8 RGB, already at training resolution.

    Returns:
        ``[H, W, 3]`` uint8 RGB: pixels within the 5x5-dilated Canny(100, 200) edge mask replaced
        by a 5x5 Gaussian (``cv2.getGaussianKernel(5, 0)``) of the reflect-padded image; all other
        pixels unchanged.
    """
    image_rgb = np.ascontiguousarray(image_rgb)
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, _CANNY_LOW, _CANNY_HIGH)
    mask = cv2.dilate(edges, _DILATE_KERNEL) != 0
    return np.where(mask[..., None], _gaussian5_floor(image_rgb), image_rgb)


def _write_png_atomic(target: Path, image_rgb: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode smoothed image for {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Dataloader workers and DDP ranks may fill the cache concurrently: rename is atomic.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(encoded.tobytes())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SmoothCache:
    """Edge-smoothed anime images at training resolution, computed once and kept as PNGs.

    ``get(path)`` resizes the anime file so its shorter side is ``image_size`` (the same
    :func:`resize_shorter_side` the dataset uses, so the result is pixel-aligned with the anime
    image) and applies :func:`edge_smooth`. Results live in
    ``cache_dir/smooth_<image_size>/<sha1(abs path, size, mtime_ns)>.png``; an edited file gets a
    new key. When ``official_smooth_dir`` is given and holds a file with the same name as the anime
    file (the official ``<Style>/smooth/`` folder), that file is used instead, resized the same way.
    Those files were made by squashing each image to 256x256, so the dataset stretches them back to
    the anime image's shape; pass ``official_smooth_dir=None`` to always compute aligned ones.

    Args:
        cache_dir: cache root (never the data folder).
        image_size: training shorter side in pixels.
        official_smooth_dir: optional folder of precomputed smooth images matched by file name.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        image_size: int,
        official_smooth_dir: Path | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir).expanduser()
        self.image_size = int(image_size)
        self.official_smooth_dir = Path(official_smooth_dir) if official_smooth_dir else None

    @property
    def folder(self) -> Path:
        """Folder holding the cached PNGs for this image size."""
        return self.cache_dir / f"smooth_{self.image_size}"

    def cache_path(self, path: Path) -> Path:
        """Cache file for an anime file (depends on its absolute path, size and mtime)."""
        path = Path(path)
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return self.folder / f"{hashlib.sha1(key.encode('utf-8')).hexdigest()}.png"

    def official_path(self, path: Path) -> Path | None:
        """The official smooth file matching ``path`` by name, if there is one."""
        if self.official_smooth_dir is None:
            return None
        candidate = self.official_smooth_dir / Path(path).name
        return candidate if candidate.is_file() else None

    def get(self, path: str | os.PathLike[str]) -> np.ndarray:
        """Edge-smoothed version of an anime image at training resolution.

        Args:
            path: anime image file.

        Returns:
            ``[H, W, 3]`` uint8 RGB with ``min(H, W) == image_size``.
        """
        path = Path(path)
        official = self.official_path(path)
        if official is not None:
            try:
                official_rgb = read_image_rgb(official, min_size=self.image_size)
                return resize_shorter_side(official_rgb, self.image_size)
            except ImageDecodeError:
                pass  # a broken official file: compute our own instead
        target = self.cache_path(path)
        if target.is_file():
            bgr = cv2.imread(str(target), cv2.IMREAD_COLOR)
            if bgr is not None:
                return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        # Decoded exactly as the dataset decodes it, so the result is pixel-aligned with the anime.
        anime = read_image_rgb(path, min_size=self.image_size)
        smooth = edge_smooth(resize_shorter_side(anime, self.image_size))
        _write_png_atomic(target, smooth)
        return smooth

    def _ensure(self, path: Path) -> bool:
        if self.official_path(path) is not None or self.cache_path(path).is_file():
            return False
        self.get(path)
        return True

    def prepare(self, paths: Iterable[str | os.PathLike[str]], num_workers: int = 0) -> int:
        """Compute every missing cache entry (with a progress bar), so training never waits.

        Args:
            paths: anime image files.
            num_workers: threads to use (OpenCV and PIL release the GIL); 0 runs inline.

        Returns:
            How many images were computed (0 when everything was cached or official).
        """
        from tqdm.auto import tqdm

        todo = [
            Path(p)
            for p in paths
            if self.official_path(Path(p)) is None and not self.cache_path(Path(p)).is_file()
        ]
        if not todo:
            return 0
        desc = f"edge-smoothing anime images ({self.image_size}px, once)"
        with tqdm(total=len(todo), desc=desc, unit="img") as bar:
            if num_workers > 0:
                with ThreadPoolExecutor(max_workers=num_workers) as pool:
                    for _ in pool.map(self._ensure, todo):
                        bar.update(1)
            else:
                for path in todo:
                    self._ensure(path)
                    bar.update(1)
        return len(todo)
