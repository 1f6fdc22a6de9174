"""Brightness matching (official tools/adjust_brightness.py): hand-computed values, and its
place in the stylize pipeline (after the other steps, on the whole image, with tiling)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from animegan.inference import (
    PostProcess,
    Stylizer,
    TorchBackend,
    apply_postprocess,
    blend_strength,
    gray_world_white_balance,
    match_brightness,
    mean_luma,
)
from animegan.models import GeneratorLite

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def backend() -> TorchBackend:
    torch.manual_seed(0)
    return TorchBackend(GeneratorLite().eval())


def _image(rows: list[list[tuple[int, int, int]]]) -> np.ndarray:
    return np.array(rows, dtype=np.uint8)


def test_mean_luma_hand_computed() -> None:
    # channel means R 30, G 60, B 90: 0.299 * 30 + 0.587 * 60 + 0.114 * 90 = 54.45
    stylized = _image([[(50, 100, 150), (10, 20, 30)]])
    assert mean_luma(stylized) == pytest.approx(54.45, abs=1e-12)
    assert mean_luma(_image([[(255, 255, 255)]])) == pytest.approx(255.0)


def test_match_brightness_hand_computed() -> None:
    stylized = _image([[(50, 100, 150), (10, 20, 30)]])
    photo = _image([[(100, 100, 100)]])  # mean luma 100; a different size is fine
    before = stylized.copy()
    # factor 100 / 54.45 = 1.83655: 91.83 -> 91, 183.65 -> 183, 275.5 -> 255 (clipped),
    # 18.37 -> 18, 36.73 -> 36, 55.10 -> 55 (truncated like the official np.uint8 cast).
    expected = _image([[(91, 183, 255), (18, 36, 55)]])
    np.testing.assert_array_equal(match_brightness(stylized, photo), expected)
    np.testing.assert_array_equal(stylized, before)  # the input is not modified


def test_darkening_reaches_the_photos_mean_luma_within_a_level() -> None:
    rng = np.random.default_rng(0)
    stylized = rng.integers(100, 200, (31, 17, 3), dtype=np.uint8)
    photo = rng.integers(20, 90, (12, 40, 3), dtype=np.uint8)
    matched = match_brightness(stylized, photo)
    # No clipping when darkening: only truncation, which loses < 1 level per channel.
    assert 0.0 <= mean_luma(photo) - mean_luma(matched) < 1.0
    # Same factor on every channel: colour ratios are kept (up to truncation).
    factor = mean_luma(photo) / mean_luma(stylized)
    np.testing.assert_array_equal(matched, np.floor(stylized * factor).astype(np.uint8))


def test_black_output_is_returned_unchanged() -> None:
    black = np.zeros((4, 5, 3), np.uint8)
    result = match_brightness(black, np.full((4, 5, 3), 80, np.uint8))
    np.testing.assert_array_equal(result, black)
    assert result is not black


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="photo must be"):
        match_brightness(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="needs the photo"):
        apply_postprocess(np.zeros((2, 2, 3), np.uint8), PostProcess(match_brightness=True))


def test_postprocess_runs_brightness_matching_last() -> None:
    rng = np.random.default_rng(1)
    stylized = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    photo = rng.integers(0, 120, (9, 11, 3), dtype=np.uint8)
    post = PostProcess(white_balance=True, match_brightness=True)
    assert post.enabled and PostProcess(match_brightness=True).enabled
    expected = match_brightness(gray_world_white_balance(stylized), photo)
    np.testing.assert_array_equal(apply_postprocess(stylized, post, photo=photo), expected)
    # Off by default: the image is passed through.
    assert apply_postprocess(stylized, PostProcess(), photo=photo) is stylized


def test_stylizer_matches_on_the_whole_tiled_image(backend: TorchBackend) -> None:
    rng = np.random.default_rng(2)
    photo = rng.integers(0, 110, (56, 90, 3), dtype=np.uint8)  # larger than one 32-pixel tile
    plain = Stylizer(backend, tile=32, overlap=8)
    matched = Stylizer(backend, tile=32, overlap=8, post=PostProcess(match_brightness=True))
    raw = plain(photo)
    result = matched(photo)
    np.testing.assert_array_equal(result, match_brightness(raw, photo))
    assert abs(mean_luma(result) - mean_luma(photo)) < 1.0
    # Per-tile means would give a different image: the left half of this photo is darker.
    photo[:, :45] //= 3
    result = matched(photo)
    left, right = plain(photo[:, :48]), plain(photo[:, 40:])
    per_tile = np.concatenate(
        [match_brightness(left, photo[:, :48])[:, :45], match_brightness(right, photo[:, 40:])[:, 5:]],
        axis=1,
    )
    assert np.abs(result.astype(int) - per_tile.astype(int)).max() > 5


def test_strength_blending_keeps_the_matched_mean_luma(backend: TorchBackend) -> None:
    rng = np.random.default_rng(3)
    photo = rng.integers(30, 100, (24, 40, 3), dtype=np.uint8)
    half = Stylizer(backend, strength=0.5, post=PostProcess(match_brightness=True))
    full = Stylizer(backend, strength=1.0, post=PostProcess(match_brightness=True))
    np.testing.assert_array_equal(half(photo), blend_strength(photo, full(photo), 0.5))
    assert abs(mean_luma(half(photo)) - mean_luma(photo)) < 1.0
