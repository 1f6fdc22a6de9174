"""Align and crop a folder of photos into a face dataset (never touches the inputs).

    python -m animegan.cli.align_faces IN OUT --size 256 [--portrait] [--backend dlib]

Every face becomes ``OUT/<image stem>_<k>.png`` (``--all-faces``) or only the largest face
``OUT/<image stem>.png``. Crops are ArcFace-aligned (``norm_crop``) or, with ``--portrait``,
FFHQ-style portraits (the face2paint framing). ``OUT/landmarks.json`` caches per input file
(keyed by relative path, size and mtime) the detected boxes and 5 landmarks in the *input*
pixels plus each crop's landmarks in crop pixels, so a re-run skips detection and training
code can read face landmarks without a detector. A summary names the images without a face
and those with several.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from animegan.data.decode import ImageDecodeError, list_image_files, read_image_rgb
from animegan.faces.alignment import norm_crop, norm_crop_matrix, portrait_crop
from animegan.faces.detection import FaceDetector, make_detector

__all__ = ["align_folder", "main"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
CACHE_NAME = "landmarks.json"
CACHE_VERSION = 1


def align_folder(
    input_dir: str | Path,
    output_dir: str | Path,
    *,
    detector: FaceDetector | None = None,
    size: int = 256,
    portrait: bool = False,
    all_faces: bool = False,
    min_face: float = 0.0,
) -> dict[str, list[str]]:
    """Detect, align and save faces of every image in ``input_dir`` (recursively) to ``output_dir``.

    Args:
        input_dir: folder of photos (read only).
        output_dir: folder for the crops and ``landmarks.json``; must not be ``input_dir``.
        detector: face detector; built lazily with ``make_detector("auto")`` when needed.
        size: crop side in pixels (a multiple of 112 or 128 for ArcFace crops).
        portrait: FFHQ-style portrait crops instead of ArcFace crops.
        all_faces: save every face, not only the largest.
        min_face: ignore faces whose box is smaller than this many pixels on its longer side.

    Returns:
        ``{"saved": [...], "no_face": [...], "several_faces": [...], "unreadable": [...]}``
        (relative input paths; saved lists output file names).
    """
    input_dir, output_dir = Path(input_dir).resolve(), Path(output_dir).resolve()
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder {input_dir} does not exist")
    if output_dir == input_dir or input_dir in output_dir.parents:
        raise ValueError(f"output folder {output_dir} must be outside the input folder")
    output_dir.mkdir(parents=True, exist_ok=True)
    cache_path = output_dir / CACHE_NAME
    cache: dict = {"version": CACHE_VERSION, "images": {}}
    if cache_path.is_file():
        loaded = json.loads(cache_path.read_text())
        if loaded.get("version") == CACHE_VERSION:
            cache = loaded
    report: dict[str, list[str]] = {
        "saved": [],
        "no_face": [],
        "several_faces": [],
        "unreadable": [],
    }
    listing = list_image_files(input_dir, recursive=True, suffixes=IMAGE_SUFFIXES)
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
            faces = [
                {"box": f.box.tolist(), "landmarks": f.landmarks.tolist(), "score": f.score}
                for f in detector(image)
            ]
            entry = {"key": key, "faces": faces}
        faces = [
            f
            for f in entry["faces"]
            if max(f["box"][2] - f["box"][0], f["box"][3] - f["box"][1]) >= min_face
        ]
        if not faces:
            report["no_face"].append(relative)
        elif len(faces) > 1:
            report["several_faces"].append(relative)
        faces.sort(key=lambda f: -(f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]))
        chosen = faces if all_faces else faces[:1]
        crops = []
        stem = relative.rsplit(".", 1)[0].replace("/", "__")
        for index, face in enumerate(chosen):
            landmarks = np.asarray(face["landmarks"], dtype=np.float64)
            if portrait:
                crop, matrix = portrait_crop(image, landmarks, size)
            else:
                crop, matrix = norm_crop(image, landmarks, size), norm_crop_matrix(landmarks, size)
            name = f"{stem}_{index}.png" if all_faces else f"{stem}.png"
            cv2.imwrite(str(output_dir / name), np.ascontiguousarray(crop[:, :, ::-1]))
            crop_landmarks = landmarks @ matrix[:, :2].T + matrix[:, 2]
            crops.append({"file": name, "landmarks": crop_landmarks.round(3).tolist()})
            report["saved"].append(name)
        entry["crops"] = crops
        cache["images"][relative] = entry
    report["unreadable"].sort(key=PurePosixPath)
    cache["settings"] = {"size": size, "portrait": portrait, "all_faces": all_faces}
    cache_path.write_text(json.dumps(cache, indent=1))
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input_dir", type=Path)
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--size", type=int, default=256, help="crop side in pixels")
    parser.add_argument("--portrait", action="store_true", help="FFHQ-style portrait crops")
    parser.add_argument("--all-faces", action="store_true", help="save every face, not the largest")
    parser.add_argument("--min-face", type=float, default=0.0, help="min box side in pixels")
    parser.add_argument("--backend", default="auto", choices=["auto", "insightface", "dlib"])
    parser.add_argument("--model-dir", type=Path, default=None, help="insightface pack folder")
    args = parser.parse_args(argv)
    if not args.portrait and args.size % 112 and args.size % 128:
        parser.error(f"--size {args.size}: ArcFace crops need a multiple of 112 or 128")
    if not args.input_dir.is_dir():
        parser.error(f"input folder {args.input_dir} does not exist")
    detector = None
    if args.backend != "auto" or args.model_dir is not None:
        detector = make_detector(args.backend, model_dir=args.model_dir)
    report = align_folder(
        args.input_dir,
        args.output_dir,
        detector=detector,
        size=args.size,
        portrait=args.portrait,
        all_faces=args.all_faces,
        min_face=args.min_face,
    )
    print(f"saved {len(report['saved'])} crops to {args.output_dir}")
    for kind in ("no_face", "several_faces", "unreadable"):
        if report[kind]:
            print(f"{kind.replace('_', ' ')} ({len(report[kind])}): {', '.join(report[kind])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
