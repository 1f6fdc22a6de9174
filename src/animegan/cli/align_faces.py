"""Align and crop a folder of photos into a face dataset (never touches the inputs).

    python -m animegan.cli.align_faces IN OUT --size 256 [--portrait] [--backend dlib]

Every face becomes ``OUT/<image stem>_<k>.png`` (``--all-faces``) or only the largest face
``OUT/<image stem>.png``. Crops are ArcFace-aligned (``norm_crop``) or, with ``--portrait``,
FFHQ-style portraits (the face2paint framing). ``OUT/landmarks.json`` caches per input file
(keyed by relative path, size and mtime) the detected boxes and 5 landmarks in the *input*
pixels plus each crop's landmarks in crop pixels, so a re-run skips detection and training
code can read face landmarks without a detector (format: :mod:`animegan.faces.prepare`). A
summary names the images without a face and those with several.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from animegan.faces.detection import make_detector
from animegan.faces.prepare import align_folder

__all__ = ["main"]


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
    try:
        report = align_folder(
            args.input_dir,
            args.output_dir,
            detector=detector,
            size=args.size,
            portrait=args.portrait,
            all_faces=args.all_faces,
            min_face=args.min_face,
        )
    except ValueError as error:  # output inside input, a landmarks.json this code did not write
        parser.error(str(error))
    print(f"saved {len(report['saved'])} crops to {args.output_dir}")
    for kind in ("no_face", "several_faces", "unreadable"):
        if report[kind]:
            print(f"{kind.replace('_', ' ')} ({len(report[kind])}): {', '.join(report[kind])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
