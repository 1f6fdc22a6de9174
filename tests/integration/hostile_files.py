"""Hostile input files made on the fly, and what each must become (shared by the hostile suite).

Every builder writes one entry into a folder and returns its path. :data:`CASES` maps each file
name to the documented behaviour: ``"skip"`` (left out and listed with a reason; nothing
modified) or ``"ok"`` (decoded, with :func:`expected_rgb` giving the exact pixels where they are
known).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

# Pixel limit the suite runs with: small, so "above the limit" costs no memory in a test.
SUITE_MAX_PIXELS = 200_000
GOOD_SIZE = (48, 40)  # (width, height) of the ordinary images


def _rgb(seed: int, width: int = GOOD_SIZE[0], height: int = GOOD_SIZE[1]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg_bytes(pixels: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` 8-bit RGB but holds one row of data.

    The header is valid (CRC included), so only a decoder that trusts it would allocate
    ``width * height * 3`` bytes.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\x00" + b"\x00" * (3 * min(width, 64)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------------ builders
def corrupt(folder: Path) -> Path:
    path = folder / "corrupt.jpg"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def truncated_jpeg(folder: Path) -> Path:
    data = _jpeg_bytes(_rgb(2))
    path = folder / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_png(folder: Path) -> Path:
    data = _png_bytes(_rgb(3))
    path = folder / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    return path


def zero_byte(folder: Path) -> Path:
    path = folder / "zero.png"
    path.write_bytes(b"")
    return path


def text_named_png(folder: Path) -> Path:
    path = folder / "notes.png"
    path.write_text("not an image, only named like one\n")
    return path


def png_named_jpg(folder: Path) -> Path:
    path = folder / "png_named.jpg"
    path.write_bytes(_png_bytes(_rgb(4)))
    return path


def huge_dimension(folder: Path) -> Path:
    """A real 12000 x 12000 1-bit PNG: a few hundred KB on disk, 432 MB once decoded to RGB."""
    path = folder / "huge.png"
    image = Image.new("1", (12000, 12000), 0)
    image.paste(1, (0, 0, 12000, 10))
    image.save(path, optimize=False, compress_level=1)
    return path


def header_bomb(folder: Path) -> Path:
    """A PNG header claiming 100000 x 100000 (above PIL's own decompression-bomb limit)."""
    path = folder / "bomb.png"
    path.write_bytes(png_header_claiming(100_000, 100_000))
    return path


def above_suite_limit(folder: Path) -> Path:
    """A valid 500 x 450 image: above :data:`SUITE_MAX_PIXELS`, fine for the default limit."""
    path = folder / "large.png"
    Image.fromarray(_rgb(5, 500, 450)).save(path)
    return path


ANIMATION_COLOURS = [(220, 30, 30), (30, 220, 30), (30, 30, 220)]


def animated_gif(folder: Path) -> Path:
    path = folder / "animated.gif"
    frames = [Image.new("RGB", GOOD_SIZE, colour) for colour in ANIMATION_COLOURS]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def animated_png(folder: Path) -> Path:
    path = folder / "animated.png"
    frames = [Image.new("RGB", GOOD_SIZE, colour) for colour in ANIMATION_COLOURS]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def gray16(folder: Path) -> Path:
    path = folder / "gray16.png"
    width, height = GOOD_SIZE
    values = np.linspace(0, 65535, width * height).round().astype(np.uint16).reshape(height, width)
    assert cv2.imwrite(str(path), values)
    return path


def rgb16(folder: Path) -> Path:
    path = folder / "rgb16.png"
    width, height = GOOD_SIZE
    rng = np.random.default_rng(6)
    values = rng.integers(0, 65536, (height, width, 3), dtype=np.uint16)
    assert cv2.imwrite(str(path), values[..., ::-1])  # cv2 writes BGR
    np.save(folder.parent / "rgb16_values.npy", values)
    return path


PALETTE = [(255, 0, 0), (0, 128, 255), (10, 200, 40), (250, 250, 0)]


def palette(folder: Path) -> Path:
    path = folder / "palette.png"
    width, height = GOOD_SIZE
    image = Image.new("P", GOOD_SIZE)
    image.putpalette([c for colour in PALETTE for c in colour] + [0] * (768 - 3 * len(PALETTE)))
    indices = (np.arange(width * height) % len(PALETTE)).astype(np.uint8).reshape(height, width)
    image.putdata(indices.flatten().tolist())
    image.save(path)
    return path


def exif_rotated(folder: Path) -> Path:
    """A JPEG stored 48 x 40 (landscape) with EXIF orientation 6: displayed 40 x 48 (portrait)."""
    path = folder / "exif_rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    path.write_bytes(_jpeg_bytes(_rgb(7), exif=exif))
    return path


def dangling_symlink(folder: Path) -> Path:
    path = folder / "dangling.jpg"
    os.symlink(folder / "no_such_target.jpg", path)
    return path


def symlink_loop(folder: Path) -> Path:
    path = folder / "loop.png"
    os.symlink(path, path)
    return path


def symlink_to_good(folder: Path) -> Path:
    target = folder.parent / "outside_good.png"
    target.write_bytes(_png_bytes(_rgb(8)))
    path = folder / "link_good.png"
    os.symlink(target, path)
    return path


def directory_named_like_image(folder: Path) -> Path:
    path = folder / "album.jpg"
    path.mkdir()
    (path / "inside.txt").write_text("a folder, not a photo")
    return path


def fifo(folder: Path) -> Path:
    """A named pipe named like an image: opening it would block forever."""
    path = folder / "pipe.png"
    os.mkfifo(path)
    return path


def good(folder: Path, seed: int) -> Path:
    path = folder / f"good_{seed}.png"
    path.write_bytes(_png_bytes(_rgb(100 + seed)))
    return path


# name -> (builder, behaviour); "skip" = listed among the skipped with a reason.
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "corrupt.jpg": (corrupt, "skip"),
    "truncated.jpg": (truncated_jpeg, "skip"),
    "truncated.png": (truncated_png, "skip"),
    "zero.png": (zero_byte, "skip"),
    "notes.png": (text_named_png, "skip"),
    "png_named.jpg": (png_named_jpg, "ok"),
    "huge.png": (huge_dimension, "skip"),
    "bomb.png": (header_bomb, "skip"),
    "large.png": (above_suite_limit, "skip"),
    "animated.gif": (animated_gif, "ok"),
    "animated.png": (animated_png, "ok"),
    "gray16.png": (gray16, "ok"),
    "rgb16.png": (rgb16, "ok"),
    "palette.png": (palette, "ok"),
    "exif_rotated.jpg": (exif_rotated, "ok"),
    "dangling.jpg": (dangling_symlink, "skip"),
    "loop.png": (symlink_loop, "skip"),
    "link_good.png": (symlink_to_good, "ok"),
    "album.jpg": (directory_named_like_image, "skip"),
    "pipe.png": (fifo, "skip"),
}

# Words the skip reason of each skipped case must contain.
SKIP_REASONS: dict[str, str] = {
    "corrupt.jpg": "not a recognised image format",
    "truncated.jpg": "truncated",
    "truncated.png": "truncated",
    "zero.png": "empty file",
    "notes.png": "not a recognised image format",
    "huge.png": "pixel limit",
    "bomb.png": "pixel limit",
    "large.png": "pixel limit",
    "dangling.jpg": "dangling symbolic link",
    "loop.png": "symbolic link loop",
    "album.jpg": "a folder",
    "pipe.png": "not a regular file",
}


def build_folder(folder: Path, names: list[str] | None = None, good_count: int = 2) -> Path:
    """Write the hostile cases ``names`` (default all) and ``good_count`` ordinary images."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names if names is not None else list(CASES):
        builder, _ = CASES[name]
        assert builder(folder).name == name
    for seed in range(good_count):
        good(folder, seed)
    return folder


def expected_rgb(folder: Path, name: str) -> np.ndarray | None:
    """The exact RGB a correct decoder gives for case ``name`` (None where lossy, e.g. JPEG)."""
    path = folder / name
    width, height = GOOD_SIZE
    if name in ("png_named.jpg", "link_good.png"):
        return np.asarray(Image.open(path).convert("RGB"))
    if name in ("animated.gif", "animated.png"):
        return np.broadcast_to(np.array(ANIMATION_COLOURS[0], np.uint8), (height, width, 3))
    if name == "gray16.png":
        values = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.int64)
        gray = ((values * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if name == "rgb16.png":
        values = np.load(folder.parent / "rgb16_values.npy").astype(np.int64)
        return ((values * 255 + 32767) // 65535).astype(np.uint8)
    if name == "palette.png":
        indices = (np.arange(width * height) % len(PALETTE)).reshape(height, width)
        return np.array(PALETTE, np.uint8)[indices]
    return None
