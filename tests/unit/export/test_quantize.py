"""INT8 helpers without a model: the photo lister, the square loader, the pooled PSNR."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animegan.export.quantize import (
    list_photos,
    load_square_photo,
    measure_quality,
    psnr,
    psnr_from_mse,
)


def _save(path: Path, height: int = 20, width: int = 30, value: int = 100) -> Path:
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path, format="PNG")
    return path


def test_list_photos_judges_files_by_content_and_names_the_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _save(tmp_path / "b.png")
    _save(tmp_path / "a.jpg")  # a PNG named .jpg: decodes, kept
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (tmp_path / ".hidden.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        photos = list_photos(tmp_path)
    assert [p.name for p in photos] == ["a.jpg", "b.png"]
    assert "broken.jpg" in caplog.text and "calibration" in caplog.text
    assert [p.name for p in list_photos(tmp_path, limit=1)] == ["a.jpg"]


def test_list_photos_errors_say_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pass --calib DIR"):
        list_photos(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no usable calibration photos"):
        list_photos(empty)


def test_load_square_photo_scales_the_short_side_and_crops_the_centre(tmp_path: Path) -> None:
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, 10:30] = 200  # the centre square of a 2:1 image
    Image.fromarray(image).save(tmp_path / "wide.png")
    square = load_square_photo(tmp_path / "wide.png", 10)
    assert square.shape == (10, 10, 3) and square.dtype == np.uint8
    assert (square == 200).all()


class _ShiftBackend:
    """Returns ``-1 + 2 k / 255`` everywhere: ``k`` after the uint8 conversion; ``k`` per call."""

    name = "shift"
    supports_norm_stats = False
    min_side = 1
    tile_align = 1

    def __init__(self, shifts: list[int]) -> None:
        self.shifts = list(shifts)

    def __call__(self, photo: np.ndarray, norm_stats=None, *, return_stats: bool = True):
        k = self.shifts.pop(0)
        return np.full(photo.shape, -1.0 + 2.0 * k / 255.0, np.float32), None


def test_measure_quality_pools_the_squared_error_over_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("animegan.export.quantize.lpips_weights_path", lambda: tmp_path / "none")
    photos = [_save(tmp_path / f"{i}.png") for i in range(3)]
    # Differences of 0, 10 and 20 uint8 levels: squared errors 0, 100, 400 -> mean 500 / 3.
    report = measure_quality(_ShiftBackend([0, 0, 0]), _ShiftBackend([0, 10, 20]), photos, size=8)
    assert report.psnr_mean_db == pytest.approx(10 * math.log10(255**2 / (500 / 3)), abs=1e-12)
    assert report.psnr_min_db == pytest.approx(10 * math.log10(255**2 / 400), abs=1e-12)
    assert (report.num_images, report.size, report.lpips_mean) == (3, 8, None)
    same = measure_quality(_ShiftBackend([5]), _ShiftBackend([5]), photos[:1], size=8)
    assert same.psnr_mean_db == same.psnr_min_db == math.inf
    with pytest.raises(ValueError, match="no photo"):
        measure_quality(_ShiftBackend([]), _ShiftBackend([]), [], size=8)


def test_psnr_of_known_errors() -> None:
    zeros = np.zeros((4, 4, 3), np.uint8)
    assert psnr(zeros, zeros) == math.inf and psnr_from_mse(0.0) == math.inf
    assert psnr(zeros, zeros + 255) == pytest.approx(0.0)
    assert psnr(zeros, zeros + 1) == pytest.approx(20 * math.log10(255))
