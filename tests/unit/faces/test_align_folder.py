"""align_folder without a real detector: which files it reads, how it decodes them."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from animegan.cli.align_faces import main
from animegan.faces.alignment import arcface_template
from animegan.faces.detection import DetectedFace
from animegan.faces.prepare import align_folder


class RecordingDetector:
    """Finds one face (the ArcFace template at 112 px) in every image and keeps what it saw."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def __call__(self, image: np.ndarray) -> list[DetectedFace]:
        self.seen.append(image.copy())
        landmarks = arcface_template(112).astype(np.float32)
        box = np.array([20, 30, 92, 100], np.float32)
        return [DetectedFace(box=box, landmarks=landmarks, score=0.9)]


def test_align_decodes_through_read_image_rgb(tmp_path: Path) -> None:
    """Alpha over white and 16-bit by value range, as in training (cv2.imdecode dropped alpha
    and kept the high byte)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rgba = np.zeros((112, 112, 4), np.uint8)  # transparent black everywhere
    rgba[:56, :, :] = (10, 20, 30, 255)  # opaque top half
    Image.fromarray(rgba, "RGBA").save(photos / "a_alpha.png")
    cv2.imwrite(str(photos / "b_gray16.png"), np.full((112, 112), 65280, np.uint16))
    detector = RecordingDetector()

    report = align_folder(photos, tmp_path / "faces", detector=detector, size=112)

    assert report["saved"] == ["a_alpha.png", "b_gray16.png"] and not report["unreadable"]
    alpha_image, gray16 = detector.seen
    assert alpha_image.shape == (112, 112, 3)
    assert (alpha_image[0, 0] == (10, 20, 30)).all()
    assert (alpha_image[-1, -1] == 255).all()  # transparent -> white, not black
    assert (gray16 == 254).all()  # round(65280 * 255 / 65535); the high byte would be 255


def test_align_lists_like_the_rest_of_the_package(tmp_path: Path) -> None:
    """Hidden files are not read, odd entries and broken files are reported, never fatal."""
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    good = np.full((112, 112, 3), 90, np.uint8)
    Image.fromarray(good).save(photos / "sub" / "face.jpg")
    Image.fromarray(good).save(photos / "._face.jpg")  # macOS resource-fork name
    (photos / "broken.png").write_bytes(b"not a png")
    os.symlink(photos / "missing.jpg", photos / "dangling.jpg")
    (photos / "notes.txt").write_text("ignored: not named like an image")
    detector = RecordingDetector()

    report = align_folder(photos, tmp_path / "faces", detector=detector, size=112)

    assert len(detector.seen) == 1
    assert report["saved"] == ["sub__face.png"]
    assert report["unreadable"] == ["broken.png", "dangling.jpg"]
    assert not (tmp_path / "faces" / "._face.png").exists()


def test_cli_refuses_bad_folders_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.full((112, 112, 3), 90, np.uint8)).save(photos / "face.png")
    with pytest.raises(SystemExit) as info:
        main([str(photos), str(photos / "faces"), "--size", "112"])
    assert info.value.code == 2
    assert "must be outside the input folder" in capsys.readouterr().err
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "landmarks.json").write_text("{broken")
    with pytest.raises(SystemExit) as info:
        main([str(photos), str(faces), "--size", "112"])
    assert info.value.code == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert (faces / "landmarks.json").read_text() == "{broken"
