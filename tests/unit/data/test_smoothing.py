from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from animegan.data import smoothing
from animegan.data.decode import read_image_rgb
from animegan.data.smoothing import SmoothCache, edge_smooth, resize_shorter_side, to_gray3


def _edgy_image(h: int = 24, w: int = 20) -> np.ndarray:
    """Flat regions with hard boundaries (strong Canny edges) plus mild texture."""
    rng = np.random.default_rng(3)
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 2] = (230, 40, 20)
    image[h // 3 :, w // 2 :] = (10, 200, 240)
    image[h // 2 : h // 2 + 4, 2:8] = (250, 250, 250)
    noise = rng.integers(0, 20, (h, w, 3), dtype=np.uint8)
    return np.clip(image.astype(np.int32) + noise, 0, 255).astype(np.uint8)


def _official_loop(image_rgb: np.ndarray) -> np.ndarray:
    """The official per-pixel loop (tools/edge_smooth.py), on an already resized image."""
    kernel_size = 5
    kernel = np.ones((kernel_size, kernel_size), np.uint8)
    gauss = cv2.getGaussianKernel(kernel_size, 0)
    gauss = gauss * gauss.transpose(1, 0)
    pad_img = np.pad(image_rgb, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    dilation = cv2.dilate(cv2.Canny(gray, 100, 200), kernel)
    out = np.copy(image_rgb)
    idx = np.where(dilation != 0)
    for i in range(np.sum(dilation != 0)):
        y, x = idx[0][i], idx[1][i]
        for c in range(3):
            out[y, x, c] = np.sum(np.multiply(pad_img[y : y + 5, x : x + 5, c], gauss))
    return out


def test_gray_uses_rgb_order() -> None:
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((1, 1, 3), np.uint8)
    blue[..., 2] = 255
    # 0.299 * 255 = 76.2 and 0.114 * 255 = 29.1; BGR weights would swap them
    assert to_gray3(red).tolist() == [[[76, 76, 76]]]
    assert to_gray3(blue).tolist() == [[[29, 29, 29]]]
    assert to_gray3(red).dtype == np.uint8


def test_official_gaussian_kernel_is_binomial() -> None:
    taps = cv2.getGaussianKernel(5, 0).ravel() * 16
    np.testing.assert_array_equal(taps, [1, 4, 6, 4, 1])


def test_vectorised_matches_official_loop() -> None:
    image = _edgy_image()
    expected = _official_loop(image)
    out = edge_smooth(image)
    assert out.dtype == np.uint8 and out.shape == image.shape
    changed = (expected != image).any(axis=2)
    assert changed.any() and not changed.all()  # the check exercises both kinds of pixel
    np.testing.assert_array_equal(out, expected)


def test_flat_image_is_unchanged() -> None:
    flat = np.full((16, 16, 3), 120, np.uint8)
    np.testing.assert_array_equal(edge_smooth(flat), flat)


@pytest.mark.parametrize(
    ("shape", "size", "expected"),
    [
        ((30, 60, 3), 15, (15, 30, 3)),  # shrink landscape
        ((60, 30, 3), 15, (30, 15, 3)),  # shrink portrait
        ((10, 25, 3), 20, (20, 50, 3)),  # enlarge
        ((33, 100, 3), 16, (16, 48, 3)),  # 100 * 16 / 33 = 48.48 -> 48
        ((16, 16, 3), 16, (16, 16, 3)),
    ],
)
def test_resize_shorter_side(
    shape: tuple[int, int, int], size: int, expected: tuple[int, int, int]
) -> None:
    image = np.zeros(shape, np.uint8)
    assert resize_shorter_side(image, size).shape == expected


def test_resize_uses_area_when_shrinking() -> None:
    # a 1-pixel checkerboard averages to mid-gray with INTER_AREA (other filters alias)
    checker = (np.indices((8, 8)).sum(axis=0) % 2 * 255).astype(np.uint8)
    small = resize_shorter_side(np.repeat(checker[..., None], 3, axis=2), 4)
    assert np.abs(small.astype(int) - 128).max() <= 1


def _write_anime(path: Path, h: int = 20, w: int = 36) -> np.ndarray:
    image = _edgy_image(h, w)
    Image.fromarray(image).save(path)
    return image


def test_cache_computes_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    anime = tmp_path / "anime.png"
    _write_anime(anime)
    calls = []
    real = smoothing.edge_smooth

    def counting(image: np.ndarray) -> np.ndarray:
        calls.append(image.shape)
        return real(image)

    monkeypatch.setattr(smoothing, "edge_smooth", counting)
    cache_dir = tmp_path / "cache"
    first = SmoothCache(cache_dir, 16).get(anime)
    second = SmoothCache(cache_dir, 16).get(anime)  # a new instance: reads the PNG back
    assert calls == [(16, 29, 3)]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, real(resize_shorter_side(read_image_rgb(anime), 16)))
    assert len(list((cache_dir / "smooth_16").glob("*.png"))) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anime.png", "cache"]

    os.utime(anime, ns=(5, 5))  # an edited file gets a new cache entry
    SmoothCache(cache_dir, 16).get(anime)
    assert len(calls) == 2


def test_prepare_runs_once(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        _write_anime(paths[-1], 18 + i, 30)
    cache = SmoothCache(tmp_path / "cache", 12)
    assert cache.prepare(paths) == 3
    assert cache.prepare(paths, num_workers=2) == 0


def test_official_smooth_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "style").mkdir()
    (tmp_path / "smooth").mkdir()
    anime = tmp_path / "style" / "a.jpg"
    _write_anime(anime, 32, 32)
    Image.new("RGB", (32, 32), (7, 8, 9)).save(tmp_path / "smooth" / "a.jpg", format="PNG")
    _write_anime(tmp_path / "style" / "b.png", 32, 32)
    cache = SmoothCache(tmp_path / "cache", 16, official_smooth_dir=tmp_path / "smooth")
    official = cache.get(anime)
    assert official.shape == (16, 16, 3)
    assert (official == [7, 8, 9]).all()
    assert cache.prepare([anime, tmp_path / "style" / "b.png"]) == 1  # only b lacks one
