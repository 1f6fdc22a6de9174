"""``animegan stylize``: stylise photos of any size into a folder, keeping their names.

    python -m animegan.cli.stylize photos/ extra.jpg "shots/*.png" --weights paprika.pt --out out/

Exit status: 0 when every input was written (or skipped because its output exists), 1 when
some inputs could not be read or processed (they are listed; the rest were still done), 2 for
a usage or setup error (missing weights, bad option) before anything ran.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("animegan.stylize")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``animegan stylize`` (also used by ``animegan.cli.main``)."""
    parser = argparse.ArgumentParser(
        prog="animegan stylize",
        description="Stylise photos (files, folders or glob patterns) into --out, names kept.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image file, folder or glob")
    parser.add_argument(
        "--weights",
        required=True,
        type=Path,
        help="generator .pt (animegan2-pytorch format), training checkpoint "
        "(.ckpt), ONNX model (.onnx) from `animegan export`, or a published name "
        "(face_paint_512_v2, face_paint_512_v1, celeba_distill, paprika; downloaded once)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (created)")
    parser.add_argument(
        "--backend",
        choices=("auto", "torch", "onnx"),
        default="auto",
        help="auto: onnx for .onnx weights, else torch (default: auto)",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default: cpu)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (torch intra-op / onnxruntime intra-op); default all",
    )
    parser.add_argument(
        "--prefix", default="generator.", help="generator key prefix inside a training checkpoint"
    )
    parser.add_argument(
        "--tile",
        type=int,
        default=512,
        help="tile side in pixels; larger images are tiled (default: 512)",
    )
    parser.add_argument(
        "--overlap",
        type=int,
        default=64,
        help="overlap of neighbouring tiles in pixels (default: 64)",
    )
    parser.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="style strength in [0, 1]; 0 returns the photo (default: 1.0)",
    )
    post = parser.add_argument_group("post-processing (all off by default)")
    post.add_argument(
        "--bilateral",
        action="store_true",
        help="edge-preserving bilateral smoothing (d=7, sigma colour 30, space 5)",
    )
    post.add_argument(
        "--white-balance",
        action="store_true",
        help="gray-world white balance (channel gains clipped to [0.5, 2])",
    )
    post.add_argument(
        "--unsharp", action="store_true", help="unsharp mask (sigma 1 px, amount 0.5)"
    )
    post.add_argument("--unsharp-amount", type=float, default=0.5, help="unsharp gain")
    post.add_argument(
        "--bilateral-sigma-color",
        type=float,
        default=30.0,
        help="bilateral intensity sigma in uint8 levels",
    )
    face = parser.add_argument_group("face mode (face2paint)")
    face.add_argument(
        "--face",
        action="store_true",
        help="stylize the portrait around the largest face (torch backend); photos without a "
        "face are reported and skipped",
    )
    face.add_argument("--face-size", type=int, default=512, help="portrait side (default 512)")
    face.add_argument(
        "--face-paste-back", action="store_true", help="blend the portrait back into the photo"
    )
    face.add_argument(
        "--face-detector",
        default="auto",
        choices=["auto", "insightface", "dlib"],
        help="face detector backend (default auto: insightface if its pack is present, else dlib)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "--keep-alpha",
        action="store_true",
        help="keep transparency (default: composite over white, drop alpha)",
    )
    parser.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _check_args(args: argparse.Namespace) -> str | None:
    """Up-front checks; return a message saying what to do, or None."""
    from animegan.models.registry import is_published_name

    if not args.weights.expanduser().is_file() and not is_published_name(args.weights):
        return (
            f"--weights {args.weights} does not exist. Pass a generator .pt (e.g. paprika.pt "
            f"from animegan2-pytorch), a training checkpoint, an .onnx from `animegan export`, "
            f"or a published name (`animegan weights list`)."
        )
    if args.out.exists() and not args.out.is_dir():
        return f"--out {args.out} exists and is not a folder"
    if args.tile < 8:
        return f"--tile must be at least 8 pixels, got {args.tile}"
    if not 0 <= args.overlap < args.tile:
        return f"--overlap must be in [0, --tile), got {args.overlap} with --tile {args.tile}"
    if not 0.0 <= args.strength <= 1.0:
        return f"--strength must be in [0, 1], got {args.strength}"
    if args.threads is not None and args.threads < 1:
        return f"--threads must be >= 1, got {args.threads}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``animegan stylize``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    problem = _check_args(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE

    from animegan.inference import (
        PostProcess,
        Stylizer,
        build_backend,
        collect_inputs,
        stylize_files,
    )

    items, input_problems = collect_inputs(args.inputs, recursive=args.recursive)
    for spec, reason in input_problems:
        print(f"warning: {spec}: {reason}", file=sys.stderr)
    if not items:
        print("error: no input image found", file=sys.stderr)
        return EXIT_USAGE

    # Process-wide switches live here, not in the library.
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    try:
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)
    except ImportError:
        pass
    try:
        backend = build_backend(
            args.weights,
            backend=args.backend,
            device=args.device,
            prefix=args.prefix,
            threads=args.threads,
        )
    except (OSError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.face:
        from animegan.faces import make_detector
        from animegan.inference.face_mode import FacePortraitStylizer

        generator = getattr(backend, "generator", None)
        if generator is None:
            print("error: --face needs the torch backend (a .pt or .ckpt file)", file=sys.stderr)
            return EXIT_USAGE
        try:
            detector = make_detector(args.face_detector)
        except (OSError, ImportError, RuntimeError, ValueError) as error:
            print(f"error: face detector: {error}", file=sys.stderr)
            return EXIT_USAGE
        stylizer = FacePortraitStylizer(
            generator, detector, size=args.face_size, paste_back=args.face_paste_back
        )
    else:
        stylizer = Stylizer(
            backend,
            tile=args.tile,
            overlap=args.overlap,
            strength=args.strength,
            post=PostProcess(
                bilateral=args.bilateral,
                white_balance=args.white_balance,
                unsharp=args.unsharp,
                unsharp_amount=args.unsharp_amount,
                bilateral_sigma_color=args.bilateral_sigma_color,
            ),
        )
    report = stylize_files(
        items,
        stylizer,
        args.out,
        overwrite=args.overwrite,
        keep_alpha=args.keep_alpha,
        progress=not args.no_progress,
    )
    print(
        f"stylize: {len(report.written)} written to {args.out}, {len(report.existing)} skipped "
        f"(output exists; --overwrite replaces), {len(report.failed) + len(input_problems)} failed"
    )
    for source, target in report.existing:
        print(f"  exists: {target} (from {source})")
    for source, reason in report.failed:
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    if report.alpha_dropped:
        print(
            f"  note: {len(report.alpha_dropped)} input(s) had transparency, composited over "
            f"white; pass --keep-alpha to keep it",
        )
    return EXIT_SOME_FAILED if report.failed or input_problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
