"""Embedded quickstart dataset, built offline from photos that ship inside installed packages.

Photos are random crops of real photographs bundled with scikit-image (``skimage/data``) and,
when installed, insightface (``insightface/data/images``). "Anime" images are crops of *other*
bundled photographs passed through a classical cartoon filter (edge-preserving smoothing, colour
quantisation, dark outlines), so the target style is visibly flat-coloured with outlines. It is a
smoke-test dataset: it proves the pipeline trains end to end without any download, not that a
model learns a real anime style.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from animegan.data.decode import DatasetNotFoundError, read_image_rgb

__all__ = ["MARKER_NAME", "build_quickstart_dataset", "cartoonize", "quickstart_sources"]

MARKER_NAME = ".animegan_builtin_v1"
_FOLDERS = ("photo", "anime", "val")

# (package, path inside the package): photos for the photo domain...
_PHOTO_SOURCES: tuple[tuple[str, str], ...] = (
    ("skimage", "data/astronaut.png"),
    ("skimage", "data/rocket.jpg"),
    ("skimage", "data/motorcycle_left.png"),
    ("skimage", "data/camera.png"),  # grayscale photo: the model must cope with colourless input
    ("insightface", "data/images/t1.jpg"),
)
# ...and disjoint photos that become the "anime" domain after cartoonisation.
_ANIME_SOURCES: tuple[tuple[str, str], ...] = (
    ("skimage", "data/chelsea.png"),
    ("skimage", "data/coffee.png"),
    ("skimage", "data/motorcycle_right.png"),
    ("insightface", "data/images/Tom_Hanks_54745.png"),
)

_MIN_CROP_FRACTION, _MAX_CROP_FRACTION = 0.35, 1.0
_CARTOON_COLOURS = 8
_KMEANS_ITERATIONS = 8
_KMEANS_SAMPLE = 4096


def _package_dir(package: str) -> Path | None:
    # find_spec locates the package without importing it (insightface's import is slow).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def quickstart_sources() -> tuple[list[Path], list[Path]]:
    """Source photographs available in this environment.

    Returns:
        ``(photo_sources, anime_sources)``: existing files, disjoint lists.

    Raises:
        DatasetNotFoundError: scikit-image's bundled images cannot be found.
    """

    def existing(sources: tuple[tuple[str, str], ...]) -> list[Path]:
        found = []
        for package, relative in sources:
            base = _package_dir(package)
            if base is not None and (base / relative).is_file():
                found.append(base / relative)
        return found

    photos, anime = existing(_PHOTO_SOURCES), existing(_ANIME_SOURCES)
    if not photos or not anime:
        raise DatasetNotFoundError(
            "cannot build the quickstart dataset: the photos bundled with scikit-image "
            "(skimage/data/astronaut.png, chelsea.png, ...) were not found; install the pinned "
            "scikit-image (pip install -e .)"
        )
    return photos, anime


def _random_square_crop(image: np.ndarray, image_size: int, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    side = max(8, int(round(min(h, w) * rng.uniform(_MIN_CROP_FRACTION, _MAX_CROP_FRACTION))))
    top = int(rng.integers(0, h - side + 1))
    left = int(rng.integers(0, w - side + 1))
    crop = image[top : top + side, left : left + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    interpolation = cv2.INTER_AREA if side > image_size else cv2.INTER_CUBIC
    return cv2.resize(
        np.ascontiguousarray(crop), (image_size, image_size), interpolation=interpolation
    )


def _fixed_square_crop(image: np.ndarray, image_size: int, index: int, count: int) -> np.ndarray:
    """Deterministic crop number ``index`` of ``count``: slides along the longer axis."""
    h, w = image.shape[:2]
    side = min(h, w)
    fraction = 0.5 if count <= 1 else index / (count - 1)
    top = int(round((h - side) * fraction))
    left = int(round((w - side) * fraction))
    crop = np.ascontiguousarray(image[top : top + side, left : left + side])
    interpolation = cv2.INTER_AREA if side > image_size else cv2.INTER_CUBIC
    return cv2.resize(crop, (image_size, image_size), interpolation=interpolation)


def _quantise_colours(image_rgb: np.ndarray, colours: int) -> np.ndarray:
    """Deterministic k-means colour quantisation (own Lloyd loop: cv2.kmeans uses a global RNG)."""
    pixels = image_rgb.reshape(-1, 3).astype(np.float32)
    step = max(1, len(pixels) // _KMEANS_SAMPLE)
    sample = pixels[::step]
    # Initial centres at luminance quantiles spread the palette from dark to light.
    order = np.argsort(sample @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    centres = sample[order[np.linspace(0, len(order) - 1, colours).astype(int)]].copy()
    for _ in range(_KMEANS_ITERATIONS):
        labels = np.argmin(((sample[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for k in range(colours):
            members = sample[labels == k]
            if len(members):
                centres[k] = members.mean(axis=0)
    labels = np.argmin(((pixels[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return np.clip(np.rint(centres[labels]), 0, 255).astype(np.uint8).reshape(image_rgb.shape)


def cartoonize(image_rgb: np.ndarray, colours: int = _CARTOON_COLOURS) -> np.ndarray:
    """Classical cartoon filter: flat colour regions with dark outlines.

    Repeated bilateral filtering (edge-preserving flattening), a saturation boost, k-means colour
    quantisation to ``colours`` colours, and outlines from an adaptive threshold of the
    median-blurred gray image.

    Args:
        image_rgb: ``[H, W, 3]`` uint8 RGB.
        colours: palette size.

    Returns:
        ``[H, W, 3]`` uint8 RGB.
    """
    flat = np.ascontiguousarray(image_rgb)
    for _ in range(3):
        flat = cv2.bilateralFilter(flat, d=7, sigmaColor=40, sigmaSpace=7)
    hsv = cv2.cvtColor(flat, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = np.clip(hsv[..., 1].astype(np.float32) * 1.35, 0, 255).astype(np.uint8)
    flat = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    flat = _quantise_colours(flat, colours)

    gray = cv2.medianBlur(cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY), 5)
    outline = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, blockSize=9, C=4
    )
    out = flat.copy()
    out[outline == 0] = (out[outline == 0] * 0.15).astype(np.uint8)
    return out


def _write_png(path: Path, image_rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def _generate(
    staging: Path,
    photo_sources: list[Path],
    anime_sources: list[Path],
    image_size: int,
    num_photos: int,
    num_anime: int,
    num_val: int,
    seed: int,
) -> None:
    photo_images = [read_image_rgb(p) for p in photo_sources]
    anime_images = [read_image_rgb(p) for p in anime_sources]
    photo_rng, anime_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    for name in _FOLDERS:
        (staging / name).mkdir(parents=True)
    for i in range(num_photos):
        crop = _random_square_crop(photo_images[i % len(photo_images)], image_size, photo_rng)
        _write_png(staging / "photo" / f"photo_{i:04d}.png", crop)
    for i in range(num_anime):
        crop = _random_square_crop(anime_images[i % len(anime_images)], image_size, anime_rng)
        _write_png(staging / "anime" / f"anime_{i:04d}.png", cartoonize(crop))
    per_source = max(1, -(-num_val // len(photo_images)))
    for i in range(num_val):
        source, k = i % len(photo_images), i // len(photo_images)
        crop = _fixed_square_crop(photo_images[source], image_size, k, per_source)
        _write_png(staging / "val" / f"val_{i:04d}.png", crop)


def build_quickstart_dataset(
    root: str | os.PathLike[str],
    image_size: int = 128,
    num_photos: int = 48,
    num_anime: int = 48,
    num_val: int = 8,
    seed: int = 0,
) -> Path:
    """Create (or reuse) the quickstart dataset in the plain layout: photo/, anime/, val/.

    Idempotent: a marker file ``.animegan_builtin_v1`` records the parameters and sources; an
    existing build with the same marker is reused, a different one is replaced. A non-empty
    folder without the marker is never written to. Files are built in a temporary sibling
    folder and moved in at the end, so an interrupted build leaves nothing half-made.

    Args:
        root: target folder (created if missing).
        image_size: side of every square PNG, in pixels.
        num_photos: training photos to write.
        num_anime: cartoonised training images to write.
        num_val: validation photos (fixed crops of the photo sources).
        seed: all randomness derives from it; same arguments give the same files.

    Returns:
        ``root``.

    Raises:
        FileExistsError: ``root`` is non-empty and was not made by this function.
        DatasetNotFoundError: the bundled source photos are missing.
    """
    root = Path(root).expanduser()
    if min(image_size, num_photos, num_anime, num_val) <= 0:
        raise ValueError("image_size, num_photos, num_anime and num_val must be positive")
    photo_sources, anime_sources = quickstart_sources()
    params = {
        "image_size": int(image_size),
        "num_photos": int(num_photos),
        "num_anime": int(num_anime),
        "num_val": int(num_val),
        "seed": int(seed),
        "photo_sources": [p.name for p in photo_sources],
        "anime_sources": [p.name for p in anime_sources],
    }
    marker = root / MARKER_NAME
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
        if previous == params and all((root / name).is_dir() for name in _FOLDERS):
            return root
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(
            f"{root} is not empty and holds no {MARKER_NAME} marker, so it is not a quickstart "
            "dataset: refusing to write into it. Choose an empty or new folder for builtin data."
        )

    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
    try:
        _generate(
            staging, photo_sources, anime_sources, image_size, num_photos, num_anime, num_val, seed
        )
        root.mkdir(exist_ok=True)
        # An "incomplete" marker keeps ownership if we die mid-swap: the next call rebuilds.
        marker.write_text(json.dumps({"incomplete": True}) + "\n", encoding="utf-8")
        for name in _FOLDERS:
            if (root / name).exists():
                shutil.rmtree(root / name)
            os.replace(staging / name, root / name)
        marker.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root
