"""Face detectors on the real faces shipped in insightface's package (offline dlib backend)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from animegan.faces.alignment import ARCFACE_TEMPLATE_112
from animegan.faces.detection import (
    DetectedFace,
    InsightFaceDetector,
    dlib68_to_arcface5,
    largest_face,
)
from animegan.models import WeightsNotFoundError


def _sample(name: str) -> np.ndarray:
    insightface = pytest.importorskip("insightface")
    path = Path(insightface.__file__).parent / "data" / "images" / name
    if not path.is_file():
        pytest.skip(f"{path} not shipped in this insightface version")
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


@pytest.fixture(scope="module")
def dlib_detector():
    pytest.importorskip("dlib", reason="offline detector extra not installed (animegan[faces])")
    from animegan.faces.detection import DlibDetector

    return DlibDetector("hog", upsample=1)


def test_dlib68_mapping() -> None:
    points = np.zeros((68, 2))
    points[36:42] = [[10, 20]] * 3 + [[12, 22]] * 3
    points[42:48] = [30, 20]
    points[30], points[48], points[54] = [20, 30], [12, 40], [28, 40]
    np.testing.assert_allclose(
        dlib68_to_arcface5(points), [[11, 21], [30, 20], [20, 30], [12, 40], [28, 40]]
    )


def test_largest_face() -> None:
    small = DetectedFace(np.array([0, 0, 10, 10], np.float32), np.zeros((5, 2), np.float32), 1.0)
    big = DetectedFace(np.array([0, 0, 30, 20], np.float32), np.zeros((5, 2), np.float32), 0.1)
    assert largest_face([small, big]) is big and largest_face([]) is None


def test_group_photo_all_six_faces(dlib_detector) -> None:
    image = _sample("t1.jpg")
    faces = dlib_detector(image)
    assert len(faces) == 6
    for face in faces:
        x1, y1, x2, y2 = face.box
        left_eye, right_eye, nose, left_mouth, right_mouth = face.landmarks
        # Points inside the box, eyes above nose above mouth, image-left eye first.
        assert np.all((face.landmarks >= [x1 - 5, y1 - 5]) & (face.landmarks <= [x2 + 5, y2 + 5]))
        assert left_eye[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])


def test_aligned_face_landmarks_near_template(dlib_detector) -> None:
    # Tom_Hanks_54745.png is already an ArcFace 112x112 crop: landmarks sit on the template.
    faces = dlib_detector(_sample("Tom_Hanks_54745.png"))
    assert len(faces) == 1
    error = np.linalg.norm(faces[0].landmarks - ARCFACE_TEMPLATE_112, axis=1)
    assert error.mean() < 6.0


def test_insightface_missing_pack_is_named(tmp_path: Path) -> None:
    pytest.importorskip("insightface")
    with pytest.raises(WeightsNotFoundError, match="buffalo_l"):
        InsightFaceDetector(tmp_path / "buffalo_l")


def test_face2paint_with_identity_generator_and_paste_back() -> None:
    import torch

    from animegan.faces import face2paint

    image = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    landmarks = np.array([[130, 130], [170, 130], [150, 155], [135, 175], [165, 175]], float)
    result = face2paint(image, torch.nn.Identity(), landmarks=landmarks, size=128, paste_back=True)
    assert result.portrait.shape == (128, 128, 3)
    # Identity "generator": the stylized portrait is the photo portrait (up to [-1,1] rounding).
    assert np.abs(result.portrait.astype(int) - result.photo_portrait.astype(int)).max() <= 1
    assert result.pasted is not None and result.pasted.shape == image.shape
    np.testing.assert_array_equal(result.pasted[:20], image[:20])  # far from the face: untouched
