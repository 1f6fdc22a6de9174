"""Faces: detection, 5-point alignment, portrait crops and face2paint.

Preparing an aligned face dataset with its landmarks.json is :mod:`animegan.faces.prepare`. The
identity loss is in :mod:`animegan.losses.identity`, the identity metric in
:mod:`animegan.evaluation.identity`; both crop faces with :func:`arcface_crops`.
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

__all__ = [
    "ARCFACE_TEMPLATE_112",
    "DetectedFace",
    "DlibDetector",
    "FaceDetector",
    "InsightFaceDetector",
    "arcface_crops",
    "arcface_template",
    "estimate_similarity",
    "face2paint",
    "largest_face",
    "make_detector",
    "norm_crop",
    "norm_crop_matrix",
    "portrait_crop",
    "portrait_matrix",
]
