"""Checks of ``animegan stylize``'s arguments and inputs, before any weights are loaded.

Each returns a message that says what to do (the CLI prints it as one ``error:`` line) or the
inputs to keep; nothing here reads pixels beyond image headers.
"""

from __future__ import annotations

import argparse
import sys

# Warn when the tile settings need this many times the work of the defaults, over all inputs.
SLOW_TILING_FACTOR = 4.0


def check_args(args: argparse.Namespace) -> str | None:
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
    video_problem = check_video_args(args)
    if video_problem:
        return video_problem
    if args.max_pixels < 1:
        return f"--max-pixels must be >= 1, got {args.max_pixels}"
    from animegan.inference.image_io import probe_writable

    unwritable = probe_writable(args.out)
    if unwritable is not None:
        return f"--out: {unwritable}; choose a folder you can write to"
    return None


def check_video_args(args: argparse.Namespace) -> str | None:
    """Checks of the size and video options; a message saying what to do, or None."""
    if args.max_side is not None and args.max_side < 8:
        return f"--max-side must be at least 8 pixels, got {args.max_side}"
    if args.keep_size and args.max_side is None:
        return "--keep-size only makes sense with --max-side N"
    if args.face and args.max_side is not None and not args.face_paste_back:
        return (
            "--max-side with --face: the output is the --face-size portrait, whatever the photo's "
            "size; set --face-size, or add --face-paste-back to shrink the whole photo"
        )
    if not 0 <= args.crf <= 51:
        return f"--crf must be in [0, 51], got {args.crf}"
    if args.batch < 1:
        return f"--batch must be >= 1, got {args.batch}"
    if args.start < 0 or (args.duration is not None and args.duration <= 0):
        return "--start must be >= 0 and --duration > 0 (seconds)"
    if not 0 <= args.smoothing_momentum < 1:
        return f"--smoothing-momentum must be in [0, 1), got {args.smoothing_momentum}"
    if not 0 < args.scene_cut <= 1:
        return f"--scene-cut must be in (0, 1], got {args.scene_cut}"
    return None


def early_input_checks(items: list, args: argparse.Namespace) -> tuple[list, list]:
    """Read every input's size from its header, before any weights are loaded.

    Returns:
        ``(kept, refused)``: the items to process and ``(path, reason)`` of those above
        ``--max-pixels``. Unreadable headers are kept: decoding reports them with a reason.
    """
    from animegan.data.decode import ImageDecodeError, ImageTooLargeError, image_header_size
    from animegan.inference.pipeline import DEFAULT_OVERLAP, DEFAULT_TILE
    from animegan.inference.tiling import tiling_work

    kept, refused, sizes = [], [], []
    for item in items:
        try:
            width, height = image_header_size(item.path)
        except ImageTooLargeError as error:
            refused.append((item.path, f"{error}; it cannot be processed"))
            continue
        except ImageDecodeError:
            kept.append(item)
            continue
        pixels = width * height
        if pixels > args.max_pixels:
            refused.append(
                (
                    item.path,
                    f"{width}x{height} = {pixels / 1e6:.1f} MP is above --max-pixels "
                    f"{args.max_pixels}; pass --max-pixels {pixels} to process it (the decoded "
                    f"image alone takes {pixels * 3 / 1e9:.2f} GB)",
                )
            )
            continue
        kept.append(item)
        if args.max_side is not None and max(width, height) > args.max_side:
            scale = args.max_side / max(width, height)  # --max-side shrinks before stylizing
            width, height = max(1, round(width * scale)), max(1, round(height * scale))
        sizes.append((width, height))
    if sizes and not args.face:
        calls, work = tiling_work(sizes, args.tile, args.overlap)
        default_calls, default_work = tiling_work(sizes, DEFAULT_TILE, DEFAULT_OVERLAP)
        factor = work / default_work
        if factor >= SLOW_TILING_FACTOR:
            print(
                f"warning: --tile {args.tile} --overlap {args.overlap} needs {calls} generator "
                f"calls for {len(sizes)} input(s), about {factor:.0f}x the work of the default "
                f"--tile {DEFAULT_TILE} --overlap {DEFAULT_OVERLAP} ({default_calls} calls): "
                "expect a very slow run; a larger --tile or a smaller --overlap is faster",
                file=sys.stderr,
            )
    return kept, refused
