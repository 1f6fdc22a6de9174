"""``animegan stylize``: stylise photos of any size and videos into a folder, keeping names.

    python -m animegan.cli.stylize photos/ extra.jpg "shots/*.png" --weights paprika.pt --out out/
    python -m animegan.cli.stylize clip.mp4 --weights paprika --out out/ --start 5 --duration 10

Videos (mp4, mov, mkv, webm, avi, animated GIF) keep their size, timing, rotation and
audio; layer-norm statistics are smoothed across frames (``--no-temporal-smoothing`` turns it
off).

Exit status: 0 when every input was written (or skipped because its output exists), 1 when
some inputs could not be read or processed (they are listed; the rest were still done), 2 for
a usage or setup error (missing weights, bad option, an --out that cannot be written, no usable
input) before anything ran.

Before the weights are loaded, every input's size is read from its header: images above
--max-pixels are refused (listed, with the flag value that would admit them), and tile settings
that would multiply the work (e.g. --tile 8 --overlap 0) are warned about with an estimate.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from animegan.cli.stylize_checks import check_args, early_input_checks

log = logging.getLogger("animegan.stylize")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2

# Same default as training and eval (animegan.data.decode.DEFAULT_MAX_PIXELS), kept literal so
# `--help` needs no package import.
DEFAULT_MAX_PIXELS = 50_000_000


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
    post.add_argument(
        "--match-brightness",
        action="store_true",
        help="scale the result so its mean luma equals the photo's (the official "
        "tools/adjust_brightness.py; whole image, after the other steps)",
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
        help="stylize the portrait around the largest face (any backend; --strength, --tile and "
        "post-processing apply to the portrait); photos without a face are reported and skipped",
    )
    face.add_argument("--face-size", type=int, default=512, help="portrait side (default 512)")
    face.add_argument(
        "--face-paste-back", action="store_true", help="blend the portrait back into the photo"
    )
    face.add_argument(
        "--face-detector",
        default="auto",
        choices=["auto", "insightface", "dlib"],
        help="face detector backend (default auto: dlib when installed, else insightface)",
    )
    size = parser.add_argument_group("size")
    size.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="shrink photos and video frames so the longer side is at most N pixels before "
        "stylizing (faster; larger strokes); default: keep the size",
    )
    size.add_argument(
        "--keep-size", action="store_true", help="with --max-side: scale results back up"
    )
    video = parser.add_argument_group("video")
    video.add_argument(
        "--crf", type=int, default=18, help="video quality, 0 (lossless) .. 51 (worst); 18"
    )
    video.add_argument("--batch", type=int, default=4, help="frames per generator call (4)")
    video.add_argument("--start", type=float, default=0.0, help="first second to stylize (0)")
    video.add_argument("--duration", type=float, default=None, help="seconds to stylize")
    video.add_argument(
        "--temporal-smoothing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="smooth layer-norm statistics across frames, reset at scene cuts (default on)",
    )
    video.add_argument(
        "--smoothing-momentum",
        type=float,
        default=0.8,
        help="weight of past frames in the statistics average, [0, 1) (0.8)",
    )
    video.add_argument(
        "--scene-cut",
        type=float,
        default=0.35,
        help="colour-histogram change in (0, 1] that counts as a scene cut (0.35)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="refuse images with more pixels (width x height, read from the header before "
        f"anything is decoded); default {DEFAULT_MAX_PIXELS} (50 MP)",
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


def _stylize_videos(items, stylizer, args: argparse.Namespace) -> tuple[int, int]:
    """Stylise the video inputs one by one; returns ``(written, failed)`` counts."""
    from animegan.inference.temporal import TemporalNormSmoother, VideoFrameStylizer
    from animegan.inference.video import VideoError, stylize_video

    written = failed = 0
    for item in items:
        target = args.out / item.relative
        if target.exists() and not args.overwrite:
            print(f"  exists: {target} (from {item.path}; --overwrite replaces)")
            continue
        smoother = (
            TemporalNormSmoother(args.smoothing_momentum, args.scene_cut)
            if args.temporal_smoothing
            else None
        )
        try:
            report = stylize_video(
                item.path,
                target,
                VideoFrameStylizer(stylizer, smoother),
                crf=args.crf,
                batch=args.batch,
                start=args.start,
                duration=args.duration,
                max_side=args.max_side,
                keep_size=args.keep_size,
                overwrite=args.overwrite,
                progress=not args.no_progress,
            )
        except VideoError as error:  # its message names the file
            print(f"  failed: {error}", file=sys.stderr)
            failed += 1
            continue
        except (OSError, ValueError, MemoryError, RuntimeError) as error:
            print(f"  failed: {item.path}: {error}", file=sys.stderr)
            failed += 1
            continue
        written += 1
        width, height = report.size
        print(
            f"  video: {target} ({report.frames} frames, {width}x{height}, {report.fps:.3g} fps, "
            f"{report.audio_streams} audio stream(s) copied, {report.scene_cuts} scene cut(s), "
            f"{report.frames / max(report.seconds, 1e-9):.2f} frames/s)"
        )
        for note in report.notes:
            print(f"  note: {item.path.name}: {note}")
    return written, failed


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``animegan stylize``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    problem = check_args(args)
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
    items, refused = early_input_checks(items, args)
    for path, reason in refused:
        print(f"error: {path}: {reason}", file=sys.stderr)
    input_problems = [*input_problems, *((str(path), reason) for path, reason in refused)]
    if not items:
        found = f" ({len(input_problems)} input(s) refused or unusable, listed above)"
        print(f"error: no usable input image{found if input_problems else ''}", file=sys.stderr)
        return EXIT_USAGE
    if args.max_pixels > (Image.MAX_IMAGE_PIXELS or 0):
        # Process-wide switch: PIL refuses images above 2x its limit as decompression bombs; the
        # user raised ours explicitly, so raise PIL's to match (here, never in the library).
        Image.MAX_IMAGE_PIXELS = args.max_pixels

    from animegan.inference.video import is_video_file

    videos = [item for item in items if is_video_file(item.path)]
    items = [item for item in items if not is_video_file(item.path)]
    if videos and args.face:
        print("error: --face works on photos; stylize videos without it", file=sys.stderr)
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
    try:
        stylizer = Stylizer(
            backend,
            tile=args.tile,
            overlap=args.overlap,
            strength=args.strength,
            post=PostProcess(
                bilateral=args.bilateral,
                white_balance=args.white_balance,
                unsharp=args.unsharp,
                match_brightness=args.match_brightness,
                unsharp_amount=args.unsharp_amount,
                bilateral_sigma_color=args.bilateral_sigma_color,
            ),
        )
    except ValueError as error:  # e.g. --tile below the lite generator's 16 pixels
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.face:
        from animegan.faces import make_detector
        from animegan.inference.face_mode import FacePortraitStylizer

        try:
            detector = make_detector(args.face_detector)
        except (OSError, ImportError, RuntimeError, ValueError) as error:
            print(f"error: face detector: {error}", file=sys.stderr)
            return EXIT_USAGE
        stylizer = FacePortraitStylizer(
            stylizer, detector, size=args.face_size, paste_back=args.face_paste_back
        )
    if videos:
        videos_written, videos_failed = _stylize_videos(videos, stylizer, args)
    else:
        videos_written = videos_failed = 0
    if not items:
        print(f"stylize: {videos_written} video(s) written to {args.out}, {videos_failed} failed")
        return EXIT_SOME_FAILED if videos_failed or input_problems else EXIT_OK
    if args.max_side is not None:
        from animegan.inference.resize import MaxSideStylizer

        stylizer = MaxSideStylizer(stylizer, args.max_side, keep_size=args.keep_size)
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
    if videos:
        print(f"stylize: {videos_written} video(s) written, {videos_failed} failed")
    failed_any = report.failed or input_problems or videos_failed
    return EXIT_SOME_FAILED if failed_any else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
