"""Preparing an aligned face dataset, and the ``landmarks.json`` file that describes it.

:func:`align_folder` detects the faces of every photo in a folder, saves aligned crops
(ArcFace ``norm_crop`` or FFHQ-style portraits) and writes ``landmarks.json`` beside them;
:func:`load_crop_landmarks` reads it back for training, so faces are detected once per image,
never per training step.

``landmarks.json`` (version 1), written with ``json.dumps(indent=1)``::

    {"version": 1,
     "images": {"<input path relative to the input folder, '/'-separated>": {
         "key": [<size in bytes>, <mtime in ns>],   # the input file it was detected in
         "faces": [{"box": [x1, y1, x2, y2], "landmarks": [[x, y] x 5], "score": s}],
         "crops": [{"file": "<crop file name>", "landmarks": [[x, y] x 5]}]}},
     "settings": {"size": <crop side in pixels>, "portrait": bool, "all_faces": bool}}

Faces are in input-image pixels (after EXIF rotation); crop landmarks are in crop pixels,
rounded to 0.001. An entry whose ``key`` matches the input file is reused without detection.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any, TypedDict

import cv2
import numpy as np

from animegan.data.decode import (
    DatasetNotFoundError,
    ImageDecodeError,
    list_image_files,
    read_image_rgb,
)
from animegan.faces.alignment import norm_crop, norm_crop_matrix, portrait_crop
from animegan.faces.detection import FaceDetector, make_detector

__all__ = [
    "FACE_IMAGE_SUFFIXES",
    "LANDMARKS_FILE",
    "LANDMARKS_VERSION",
    "AlignReport",
    "LandmarksFile",
    "LandmarksFileError",
    "align_folder",
    "load_crop_landmarks",
    "read_landmarks_file",
    "write_landmarks_file",
]

# Input files align_folder reads (by suffix, case-insensitive).
FACE_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
LANDMARKS_FILE = "landmarks.json"
LANDMARKS_VERSION = 1
_BUILD_HINT = "`python -m animegan.cli.align_faces <photos> <faces> --size 256`"


class FaceRecord(TypedDict):
    """One detected face, in input-image pixels."""

    box: list[float]  # x1, y1, x2, y2
    landmarks: list[list[float]]  # [5, 2]
    score: float


class CropRecord(TypedDict):
    """One saved crop and its 5 landmarks in crop pixels."""

    file: str
    landmarks: list[list[float]]  # [5, 2]


class ImageRecord(TypedDict, total=False):
    """What is known about one input file."""

    key: list[int]  # [size in bytes, mtime in ns]
    faces: list[FaceRecord]
    crops: list[CropRecord]


class LandmarksFile(TypedDict, total=False):
    """The whole ``landmarks.json`` document."""

    version: int
    images: dict[str, ImageRecord]
    settings: dict[str, Any]  # size (pixels), portrait, all_faces


class AlignReport(TypedDict):
    """What :func:`align_folder` did: relative input paths, and saved crop file names."""

    saved: list[str]
    no_face: list[str]
    several_faces: list[str]
    unreadable: list[str]


class LandmarksFileError(ValueError):
    """A ``landmarks.json`` that this code did not write; the message names the file and why."""


def read_landmarks_file(path: str | os.PathLike[str]) -> LandmarksFile:
    """Parse a ``landmarks.json`` document of any version (never runs code from it).

    Args:
        path: an existing file.

    Returns:
        The document; its ``version`` is not checked here.

    Raises:
        LandmarksFileError: the file is not valid JSON or not a JSON object.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LandmarksFileError(
            f"{path} is not valid JSON ({error}); move it away to detect the faces again"
        ) from error
    if not isinstance(data, dict):
        raise LandmarksFileError(f"{path} is not a landmarks file (a JSON object is expected)")
    return data  # type: ignore[return-value]


def write_landmarks_file(path: str | os.PathLike[str], data: LandmarksFile) -> None:
    """Write ``data`` as ``landmarks.json`` (``indent=1``), replacing the file in one step.

    Args:
        path: target file; its folder must exist.
        data: the document (``version`` first, as :func:`align_folder` builds it).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _points(value: Any, path: Path, where: str) -> np.ndarray:
    try:
        points = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        points = np.empty(0, np.float32)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        raise LandmarksFileError(
            f"{path}: the landmarks of {where} are not [5, 2] finite numbers; "
            f"re-run {_BUILD_HINT} into a new folder"
        )
    return points


def load_crop_landmarks(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], int]:
    """Read the crop landmarks of an aligned face folder.

    Args:
        path: ``landmarks.json`` written by :func:`align_folder`.

    Returns:
        ``(landmarks by crop file name, [5, 2] float32 in crop pixels; crop side in pixels)``;
        the side is 0 when the file records none.

    Raises:
        DatasetNotFoundError: the file does not exist (the message says how to build it).
        LandmarksFileError: the file is not a version-1 landmarks file.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(
            f"{path} does not exist: build the face dataset with {_BUILD_HINT}, which writes it"
        )
    data = read_landmarks_file(path)
    if data.get("version") != LANDMARKS_VERSION:
        raise LandmarksFileError(
            f"{path} is landmarks version {data.get('version')!r}; this code reads version "
            f"{LANDMARKS_VERSION}: re-run {_BUILD_HINT}"
        )
    images = data.get("images", {})
    settings = data.get("settings", {})
    if not isinstance(images, dict) or not isinstance(settings, dict):
        raise LandmarksFileError(f"{path} is not a landmarks file (images/settings malformed)")
    table: dict[str, np.ndarray] = {}
    for relative, entry in images.items():
        crops = entry.get("crops", []) if isinstance(entry, dict) else None
        if not isinstance(crops, list) or not all(
            isinstance(crop, dict) and isinstance(crop.get("file"), str) for crop in crops
        ):
            raise LandmarksFileError(f"{path}: the crops of {relative!r} are malformed")
        for crop in crops:
            table[crop["file"]] = _points(crop.get("landmarks"), path, repr(crop["file"]))
    try:
        size = int(settings.get("size", 0))
    except (TypeError, ValueError) as error:
        raise LandmarksFileError(f"{path}: settings.size is not a whole number") from error
    return table, size


def _load_cache(path: Path) -> LandmarksFile:
    """The existing cache to reuse, or a new empty one when missing or of another version."""
    if path.is_file():
        loaded = read_landmarks_file(path)
        if loaded.get("version") == LANDMARKS_VERSION:
            if not isinstance(loaded.get("images"), dict):
                raise LandmarksFileError(f"{path} is not a landmarks file (no images mapping)")
            return loaded
    return {"version": LANDMARKS_VERSION, "images": {}}


def _box_side(face: FaceRecord) -> float:
    box = face["box"]
    return max(box[2] - box[0], box[3] - box[1])


def _box_area(face: FaceRecord) -> float:
    box = face["box"]
    return (box[2] - box[0]) * (box[3] - box[1])


def align_folder(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    detector: FaceDetector | None = None,
    size: int = 256,
    portrait: bool = False,
    all_faces: bool = False,
    min_face: float = 0.0,
) -> AlignReport:
    """Detect, align and save faces of every image in ``input_dir`` (recursively) to ``output_dir``.

    Inputs are listed with :func:`~animegan.data.decode.list_image_files` (hidden files
    ignored, by :data:`FACE_IMAGE_SUFFIXES`) and decoded with
    :func:`~animegan.data.decode.read_image_rgb`, like training data. Every face becomes
    ``<image stem>_<k>.png`` (``all_faces``) or only the largest ``<image stem>.png``
    (sub-folders joined with ``__``); ``landmarks.json`` is updated. The inputs are never
    modified.

    Args:
        input_dir: folder of photos (read only).
        output_dir: folder for the crops and ``landmarks.json``; must be outside ``input_dir``.
        detector: face detector; built lazily with ``make_detector("auto")`` when needed.
        size: crop side in pixels (a multiple of 112 or 128 for ArcFace crops).
        portrait: FFHQ-style portrait crops instead of ArcFace crops.
        all_faces: save every face, not only the largest.
        min_face: ignore faces whose box is smaller than this many pixels on its longer side.

    Returns:
        :class:`AlignReport` (relative input paths; ``saved`` lists output file names).

    Raises:
        FileNotFoundError: ``input_dir`` does not exist.
        ValueError: ``output_dir`` is inside ``input_dir``.
        LandmarksFileError: an existing ``landmarks.json`` is not valid JSON (left untouched).
    """
    input_dir, output_dir = Path(input_dir).resolve(), Path(output_dir).resolve()
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder {input_dir} does not exist")
    if output_dir == input_dir or input_dir in output_dir.parents:
        raise ValueError(f"output folder {output_dir} must be outside the input folder")
    cache_path = output_dir / LANDMARKS_FILE
    cache = _load_cache(cache_path)
    output_dir.mkdir(parents=True, exist_ok=True)
    report: AlignReport = {"saved": [], "no_face": [], "several_faces": [], "unreadable": []}
    listing = list_image_files(input_dir, recursive=True, suffixes=FACE_IMAGE_SUFFIXES)
    # Entries named like images that are not files (dangling links, pipes) are never opened.
    report["unreadable"].extend(p.relative_to(input_dir).as_posix() for p, _ in listing.skipped)
    for path in listing.files:
        relative = path.relative_to(input_dir).as_posix()
        try:
            image = read_image_rgb(path)
            stat = path.stat()
        except (ImageDecodeError, OSError):
            report["unreadable"].append(relative)
            continue
        key = [stat.st_size, stat.st_mtime_ns]
        entry = cache["images"].get(relative)
        if entry is None or entry.get("key") != key:
            if detector is None:
                detector = make_detector("auto")
            faces: list[FaceRecord] = [
                {"box": f.box.tolist(), "landmarks": f.landmarks.tolist(), "score": f.score}
                for f in detector(image)
            ]
            entry = {"key": key, "faces": faces}
        kept = [face for face in entry["faces"] if _box_side(face) >= min_face]
        if not kept:
            report["no_face"].append(relative)
        elif len(kept) > 1:
            report["several_faces"].append(relative)
        kept.sort(key=lambda face: -_box_area(face))
        entry["crops"] = _save_crops(
            image, kept if all_faces else kept[:1], relative, output_dir, size, portrait, all_faces
        )
        report["saved"].extend(crop["file"] for crop in entry["crops"])
        cache["images"][relative] = entry
    report["unreadable"].sort(key=PurePosixPath)
    cache["settings"] = {"size": size, "portrait": portrait, "all_faces": all_faces}
    write_landmarks_file(cache_path, cache)
    return report


def _save_crops(
    image: np.ndarray,
    faces: list[FaceRecord],
    relative: str,
    output_dir: Path,
    size: int,
    portrait: bool,
    all_faces: bool,
) -> list[CropRecord]:
    """Cut, write (PNG) and describe the crops of one image's chosen faces."""
    stem = relative.rsplit(".", 1)[0].replace("/", "__")
    crops: list[CropRecord] = []
    for index, face in enumerate(faces):
        landmarks = np.asarray(face["landmarks"], dtype=np.float64)
        if portrait:
            crop, matrix = portrait_crop(image, landmarks, size)
        else:
            crop, matrix = norm_crop(image, landmarks, size), norm_crop_matrix(landmarks, size)
        name = f"{stem}_{index}.png" if all_faces else f"{stem}.png"
        cv2.imwrite(str(output_dir / name), np.ascontiguousarray(crop[:, :, ::-1]))
        crop_landmarks = landmarks @ matrix[:, :2].T + matrix[:, 2]  # [5, 2] crop pixels
        crops.append({"file": name, "landmarks": crop_landmarks.round(3).tolist()})
    return crops
