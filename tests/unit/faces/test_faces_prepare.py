"""faces/prepare.py: the landmarks.json format (writer and reader) and align_folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animegan.data.decode import DatasetNotFoundError
from animegan.faces.alignment import arcface_template
from animegan.faces.detection import DetectedFace
from animegan.faces.prepare import (
    LANDMARKS_FILE,
    LandmarksFileError,
    align_folder,
    load_crop_landmarks,
    read_landmarks_file,
)

# Written by the align_faces code before faces/prepare.py existed (commit f6018aa), from
# make_photos + FixedDetector below: the format must stay byte for byte the same.
V1_FILE = Path(__file__).parent / "fixtures" / "landmarks_v1.json"
MTIME_NS = 1_700_000_000_123_456_789


def make_photos(folder: Path) -> None:
    """Three BMP photos (fixed byte size) with a fixed modification time."""
    (folder / "sub").mkdir(parents=True)
    for name, value in [("a.bmp", 60), ("sub/b.bmp", 120), ("c.bmp", 200)]:
        Image.new("RGB", (112, 112), (value, value, value)).save(folder / name)
        os.utime(folder / name, ns=(MTIME_NS, MTIME_NS))


class FixedDetector:
    """One face in dark images, two in mid-gray ones, none in bright ones."""

    def __call__(self, image: np.ndarray) -> list[DetectedFace]:
        template = arcface_template(112).astype(np.float32)
        face = DetectedFace(np.array([20, 30, 92, 100], np.float32), template, 0.75)
        small = DetectedFace(np.array([0, 0, 30, 30], np.float32), template * 0.25 + 1.5, 0.5)
        level = int(image.mean())
        return [face] if level < 100 else [small, face] if level < 150 else []


def test_writer_is_byte_compatible_with_version_1(tmp_path: Path) -> None:
    photos, faces = tmp_path / "photos", tmp_path / "faces"
    make_photos(photos)
    report = align_folder(photos, faces, detector=FixedDetector(), size=112)
    assert report == {
        "saved": ["a.png", "sub__b.png"],
        "no_face": ["c.bmp"],
        "several_faces": ["sub/b.bmp"],
        "unreadable": [],
    }
    assert (faces / LANDMARKS_FILE).read_bytes() == V1_FILE.read_bytes()


def test_reader_loads_a_version_1_file(tmp_path: Path) -> None:
    table, crop_size = load_crop_landmarks(V1_FILE)
    assert crop_size == 112 and sorted(table) == ["a.png", "sub__b.png"]
    for points in table.values():
        assert points.dtype == np.float32 and points.shape == (5, 2)
        # The largest face is the template itself, so its crop landmarks are the template.
        np.testing.assert_allclose(points, arcface_template(112), atol=2e-3)
    assert read_landmarks_file(V1_FILE)["version"] == 1


def test_rerun_reuses_cached_detections(tmp_path: Path) -> None:
    photos, faces = tmp_path / "photos", tmp_path / "faces"
    make_photos(photos)
    align_folder(photos, faces, detector=FixedDetector(), size=112)

    class NoDetector:
        def __call__(self, image: np.ndarray) -> list[DetectedFace]:
            raise AssertionError("detection ran again for an unchanged file")

    again = align_folder(photos, faces, detector=NoDetector(), size=112)
    assert again["saved"] == ["a.png", "sub__b.png"]
    assert (faces / LANDMARKS_FILE).read_bytes() == V1_FILE.read_bytes()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ('{"version": 2, "images": {}}', "version 2"),
        ('{"version": 1, "images": {"a.png": {"crops": [{"file": "a.png"}]}}}', "landmarks"),
        (
            '{"version": 1, "images": {"a.png": {"crops": [{"file": "a.png", '
            '"landmarks": [[1, 2]]}]}}}',
            r"\[5, 2\]",
        ),
        ("[]", "not a landmarks file"),
    ],
)
def test_reader_refuses_malformed_files_with_one_line(
    tmp_path: Path, text: str, match: str
) -> None:
    path = tmp_path / LANDMARKS_FILE
    path.write_text(text)
    with pytest.raises(LandmarksFileError, match=match) as info:
        load_crop_landmarks(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert path.read_text() == text  # nothing the user had is modified


def test_missing_file_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="align_faces"):
        load_crop_landmarks(tmp_path / LANDMARKS_FILE)


def test_align_refuses_a_corrupt_cache_without_overwriting_it(tmp_path: Path) -> None:
    photos, faces = tmp_path / "photos", tmp_path / "faces"
    make_photos(photos)
    faces.mkdir()
    (faces / LANDMARKS_FILE).write_text("{broken")
    with pytest.raises(LandmarksFileError, match="not valid JSON"):
        align_folder(photos, faces, detector=FixedDetector(), size=112)
    assert (faces / LANDMARKS_FILE).read_text() == "{broken"


def test_align_replaces_a_cache_of_another_version(tmp_path: Path) -> None:
    """As before: a cache of another version is re-detected and rewritten."""
    photos, faces = tmp_path / "photos", tmp_path / "faces"
    make_photos(photos)
    faces.mkdir()
    (faces / LANDMARKS_FILE).write_text(json.dumps({"version": 0, "images": {}}))
    align_folder(photos, faces, detector=FixedDetector(), size=112)
    assert (faces / LANDMARKS_FILE).read_bytes() == V1_FILE.read_bytes()
