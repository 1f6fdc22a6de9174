"""Faces: detection, 5-point alignment, portrait crops, face2paint and the identity metric.

Preparing an aligned face dataset with its landmarks.json is :mod:`animegan.faces.prepare`.
"""

from __future__ import annotations

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
from animegan.faces.detection import (
    DetectedFace,
    DlibDetector,
    FaceDetector,
    InsightFaceDetector,
    largest_face,
    make_detector,
)
from animegan.faces.face2paint import face2paint
from animegan.faces.identity_metric import IdentityStats, identity_similarity

__all__ = [
    "ARCFACE_TEMPLATE_112",
    "DetectedFace",
    "DlibDetector",
    "FaceDetector",
    "IdentityStats",
    "InsightFaceDetector",
    "arcface_crops",
    "arcface_template",
    "estimate_similarity",
    "face2paint",
    "identity_similarity",
    "largest_face",
    "make_detector",
    "norm_crop",
    "norm_crop_matrix",
    "portrait_crop",
    "portrait_matrix",
]
