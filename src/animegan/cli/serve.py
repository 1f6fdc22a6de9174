"""``animegan serve``: the local web app (Gradio) over the stylize pipeline.

    animegan serve                                  # newest outputs/**/last.ckpt, 127.0.0.1:7860
    animegan serve --weights paprika --weights-dir models/ --port 8000
    animegan serve --host 0.0.0.0                   # reachable from other machines (explicit)

Exit status: 0 after a clean stop, 2 for a usage or setup error (no weights, gradio missing).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``animegan serve``."""
    parser = argparse.ArgumentParser(prog="animegan serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None,
                        help="weights offered first: a file or a published name (default: the "
                        "newest outputs/**/checkpoints/last.ckpt, else published names in the "
                        "cache)")  # fmt: skip
    parser.add_argument("--weights-dir", type=Path, default=None,
                        help="folder whose .pt/.ckpt/.onnx files the page may choose")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--max-upload-mb", type=int, default=50, help="largest upload (50 MB)")
    parser.add_argument("--max-megapixels", type=float, default=24.0, help="largest photo (24)")
    parser.add_argument("--max-video-seconds", type=float, default=30.0, help="longest video (30)")
    parser.add_argument("--max-side", type=int, default=1024,
                        help="default longer side in the page (1024; 0 = full size)")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=1, help="requests run at once (1)")
    parser.add_argument("--queue-size", type=int, default=16, help="requests that may wait (16)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per request")
    return parser


def newest_checkpoint(root: Path = Path("outputs")) -> Path | None:
    """The most recently written ``last.ckpt`` under ``root`` (a quickstart run), or None."""
    found = [p for p in root.glob("**/checkpoints/last.ckpt") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``animegan serve``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if min(args.max_upload_mb, args.concurrency, args.queue_size) < 1 or args.max_side < 0:
        print("error: limits must be positive (--max-side may be 0)", file=sys.stderr)
        return EXIT_USAGE
    weights = args.weights
    if weights is None and args.weights_dir is None:
        newest = newest_checkpoint()
        weights = str(newest) if newest is not None else None
    try:
        import gradio  # noqa: F401
    except ImportError:
        print("error: the web app needs gradio: pip install -e '.[serve]'", file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger("libav").setLevel(logging.CRITICAL)  # FFmpeg chatter on bad uploads
    try:
        import onnxruntime

        # The exported model's optional inputs have defaults; onnxruntime warns about that on
        # every session (intended, see animegan.export.onnx).
        onnxruntime.set_default_logger_severity(3)
    except ImportError:
        pass
    from animegan.serve import ServeConfig, build_app

    config = ServeConfig(
        weights_dir=args.weights_dir,
        weights=weights,
        max_upload_mb=args.max_upload_mb,
        max_pixels=int(args.max_megapixels * 1e6),
        max_video_seconds=args.max_video_seconds,
        max_side=args.max_side,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        device=args.device,
        threads=args.threads,
    )
    try:
        page, launch_kwargs = build_app(config)
    except (OSError, ValueError) as error:
        hint = "" if weights or args.weights_dir else " (or train one: make train)"
        print(f"error: {error}{hint}", file=sys.stderr)
        return EXIT_USAGE
    print(f"serving on http://{args.host}:{args.port} (Ctrl+C stops)")
    page.launch(server_name=args.host, server_port=args.port, **launch_kwargs)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
