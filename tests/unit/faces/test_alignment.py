"""Alignment against insightface's norm_crop, the differentiable warp, and the portrait crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from animegan.faces.alignment import (
    ARCFACE_TEMPLATE_112,
    arcface_crops,
    arcface_template,
    estimate_similarity,
    norm_crop,
    norm_crop_matrix,
    portrait_crop,
    portrait_matrix,
)

face_align = pytest.importorskip("insightface.utils.face_align")


def _random_landmarks(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    # A template face scaled, rotated and moved at random, plus per-point jitter.
    scale = rng.uniform(0.6, 2.5)
    angle = rng.uniform(-0.6, 0.6)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([rng.uniform(40, width - 40), rng.uniform(40, height - 40)])
    points = (ARCFACE_TEMPLATE_112 - 56.0) @ rotation.T * scale + centre
    return (points + rng.normal(0, 2.0, points.shape)).astype(np.float32)


def test_template_sizes_follow_estimate_norm() -> None:
    np.testing.assert_allclose(arcface_template(112), ARCFACE_TEMPLATE_112)
    np.testing.assert_allclose(arcface_template(224), ARCFACE_TEMPLATE_112 * 2)
    # 256 = 2 * 128: scaled by 2 and shifted right by 8 * 2 pixels.
    expected_256 = ARCFACE_TEMPLATE_112 * 2 + np.array([16.0, 0.0], dtype=np.float32)
    np.testing.assert_allclose(arcface_template(256), expected_256, rtol=1e-6)
    np.testing.assert_allclose(arcface_template(512)[0], [38.2946 * 4 + 32, 51.6963 * 4], rtol=1e-6)
    with pytest.raises(ValueError, match="multiple of 112 or 128"):
        arcface_template(100)


def test_similarity_recovers_known_transform() -> None:
    source = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0], [3.0, 7.0]])
    # scale 2, rotate 90 degrees, shift (5, -3): (x, y) -> (-2y + 5, 2x - 3)
    target = np.stack([-2 * source[:, 1] + 5, 2 * source[:, 0] - 3], axis=1)
    np.testing.assert_allclose(
        estimate_similarity(source, target), [[0, -2, 5], [2, 0, -3]], atol=1e-12
    )


@pytest.mark.parametrize("size", [112, 256, 512])
def test_norm_crop_equals_insightface(size: int) -> None:
    rng = np.random.default_rng(size)
    image = rng.integers(0, 256, (300, 360, 3), dtype=np.uint8)
    image = np.ascontiguousarray(np.cumsum(image, axis=1) % 256, dtype=np.uint8)
    for _ in range(5):
        landmarks = _random_landmarks(rng, 300, 360)
        ours = norm_crop(image, landmarks, size)
        theirs = face_align.norm_crop(image, landmarks, image_size=size)
        assert ours.shape == (size, size, 3)
        np.testing.assert_allclose(
            norm_crop_matrix(landmarks, size), face_align.estimate_norm(landmarks, size), atol=1e-3
        )
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_arcface_crops_match_norm_crop() -> None:
    rng = np.random.default_rng(0)
    # Smooth image so bilinear rounding differences stay small.
    yy, xx = np.mgrid[0:200, 0:240]
    image = np.stack(
        [127 + 120 * np.sin(xx / 9.0), 127 + 120 * np.cos(yy / 7.0), (xx + yy) % 256], axis=2
    ).astype(np.uint8)
    landmarks = np.stack([_random_landmarks(rng, 200, 240) for _ in range(3)])
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float().repeat(3, 1, 1, 1) / 127.5 - 1
    crops = arcface_crops(tensor, torch.from_numpy(landmarks))
    ours = ((crops + 1) * 127.5).permute(0, 2, 3, 1).numpy()
    for i in range(3):
        reference = face_align.norm_crop(image, landmarks[i], image_size=112).astype(float)
        assert np.abs(ours[i] - reference).max() < 2.0
        assert np.abs(ours[i] - reference).mean() < 0.3


def test_arcface_crops_fill_outside_with_black() -> None:
    image = torch.zeros(1, 3, 50, 50)  # mid grey in [-1, 1]
    # Crop pixel (0, 0) maps to image (-5, -5), outside; the face centre maps inside.
    landmarks = torch.from_numpy(ARCFACE_TEMPLATE_112 * 0.2)[None] - 5.0
    crop = arcface_crops(image, landmarks)
    assert crop[0, :, 0, 0].tolist() == [-1.0, -1.0, -1.0]
    assert crop[0, :, 60, 56].abs().max() < 1e-6  # face centre lies inside the image


def test_portrait_frames_head_upright() -> None:
    landmarks = np.array(
        [[100, 100], [140, 100], [120, 125], [105, 145], [135, 145]], dtype=np.float64
    )
    matrix = portrait_matrix(landmarks, 512)
    mapped = landmarks @ matrix[:, :2].T + matrix[:, 2]
    # Eyes level and symmetric about the vertical centre line; eyes above the centre,
    # mouth below it (face slightly above centre like FFHQ).
    assert abs(mapped[0, 1] - mapped[1, 1]) < 1e-6
    assert abs((mapped[0, 0] + mapped[1, 0]) / 2 - 255.5) < 1e-6
    assert mapped[0, 1] < 255.5 < mapped[3, 1]
    # Half-axis = max(2 * eye distance 40, 1.8 * eye-mouth distance 45) = 81 px: 162 px wide.
    assert abs((mapped[1, 0] - mapped[0, 0]) - 512 * 40 / 162) < 1e-6
    image = np.full((300, 300, 3), 200, np.uint8)
    crop, returned = portrait_crop(image, landmarks, 128)
    assert crop.shape == (128, 128, 3) and np.all(crop == 200)
    np.testing.assert_allclose(returned, portrait_matrix(landmarks, 128))
