"""``animegan export``: ONNX (+ parity check, optional INT8) or animegan2-pytorch ``.pt``.

    python -m animegan.cli.export --weights last.ckpt --out generator.onnx
    python -m animegan.cli.export --weights last.ckpt --out generator.onnx --int8 --calib photos/
    python -m animegan.cli.export --to-pt --weights last.ckpt --out generator.pt

Exit status: 0 on success, 1 when a check failed (parity above 1e-4, round trip not exact;
the files are still written so they can be inspected), 2 for a usage or setup error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected HxW like 65x77, got {text!r}") from error
    if height < 8 or width < 8:
        raise argparse.ArgumentTypeError(f"sides must be >= 8, got {text!r}")
    return height, width


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``animegan export`` (also used by ``animegan.cli.main``)."""
    parser = argparse.ArgumentParser(
        prog="animegan export",
        description="Export a generator to ONNX (parity-checked, optional INT8) or to .pt.",
    )
    parser.add_argument(
        "--weights",
        required=True,
        type=Path,
        help="training checkpoint (.ckpt), generator .pt, or a published name (animegan "
        "weights list), e.g. paprika",
    )
    parser.add_argument("--out", required=True, type=Path, help="output .onnx (or .pt)")
    parser.add_argument(
        "--prefix", default="generator.", help="generator key prefix inside a training checkpoint"
    )
    parser.add_argument(
        "--to-pt",
        action="store_true",
        help="write the animegan2-pytorch .pt format instead of ONNX",
    )
    onnx_group = parser.add_argument_group("ONNX")
    onnx_group.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    onnx_group.add_argument(
        "--parity-sizes",
        type=_size,
        nargs="+",
        default=[(64, 64), (65, 77), (97, 53), (128, 96), (333, 517)],
        metavar="HxW",
        help="sizes of the parity check (odd ones included)",
    )
    onnx_group.add_argument("--no-parity", action="store_true", help="skip the parity check")
    int8 = parser.add_argument_group("INT8 (static, QDQ, per-channel)")
    int8.add_argument("--int8", action="store_true", help="also write an INT8 model")
    int8.add_argument("--calib", type=Path, help="folder of real photos for calibration")
    int8.add_argument("--int8-out", type=Path, help="INT8 output (default: <out stem>.int8.onnx)")
    int8.add_argument("--calib-count", type=int, default=32, help="calibration photos (32)")
    int8.add_argument("--calib-size", type=int, default=256, help="calibration side (256)")
    int8.add_argument(
        "--calibrate-method", default="minmax", choices=("minmax", "entropy", "percentile")
    )
    int8.add_argument(
        "--fp32-layers",
        default="auto",
        help="generator layers whose convs stay fp32, e.g. block_a.0,out_layer ('' = none; "
        "default auto: the first and the last conv, for the full and the lite generator)",
    )
    int8.add_argument("--reduce-range", action="store_true", help="7-bit INT8 weights")
    int8.add_argument(
        "--quality-count",
        type=int,
        default=4,
        help="held-out calibration-folder photos for the PSNR report (4)",
    )
    int8.add_argument("--quality-size", type=int, default=256, help="PSNR comparison side")
    return parser


def _export_pt(args: argparse.Namespace) -> int:
    from animegan.export.weights import export_pt, verify_pt
    from animegan.models import load_generator

    source = load_generator(args.weights, prefix=args.prefix)
    path = export_pt(args.weights, args.out, prefix=args.prefix)
    report = verify_pt(path, source)
    print(f"wrote {path}")
    print(report.format())
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def _export_onnx(args: argparse.Namespace) -> int:
    from animegan.export.onnx import check_parity, export_onnx
    from animegan.models import load_generator

    generator = load_generator(args.weights, prefix=args.prefix)
    min_side = getattr(generator, "min_side", 8)
    too_small = [f"{h}x{w}" for h, w in args.parity_sizes if min(h, w) < min_side]
    if too_small and not args.no_parity:
        raise ValueError(
            f"--parity-sizes {' '.join(too_small)}: this {type(generator).__name__} needs sides "
            f">= {min_side}; pass larger sizes"
        )
    start = time.perf_counter()
    path = export_onnx(generator, args.out, opset=args.opset)
    print(
        f"wrote {path} ({time.perf_counter() - start:.1f} s, opset {args.opset}, dynamic "
        f"batch/height/width)"
    )
    status = EXIT_OK
    if not args.no_parity:
        parity = check_parity(generator, path, sizes=args.parity_sizes)
        print(parity.format())
        if not parity.passed:
            status = EXIT_CHECK_FAILED
    if args.int8:
        from animegan.export.quantize import list_photos, measure_quality, quantize_int8
        from animegan.inference.backends import OnnxBackend, TorchBackend

        photos = list_photos(args.calib)
        calib = photos[: args.calib_count]
        held_out = photos[args.calib_count : args.calib_count + args.quality_count]
        int8_path = args.int8_out or path.with_name(path.stem + ".int8.onnx")
        start = time.perf_counter()
        quantize_int8(
            path,
            int8_path,
            calib,
            calibration_size=args.calib_size,
            fp32_layers=(
                None
                if args.fp32_layers == "auto"
                else [x for x in args.fp32_layers.split(",") if x]
            ),
            calibrate_method=args.calibrate_method,
            reduce_range=args.reduce_range,
        )
        print(
            f"wrote {int8_path} ({time.perf_counter() - start:.1f} s, calibrated on "
            f"{len(calib)} photos at {args.calib_size}x{args.calib_size})"
        )
        compare = held_out or photos[-args.quality_count :]
        note = "held-out" if held_out else "calibration (no held-out photo left)"
        quality = measure_quality(
            TorchBackend(generator), OnnxBackend(int8_path), compare, size=args.quality_size
        )
        print(f"INT8 vs fp32 PyTorch on {note} photos: {quality.format()}")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``animegan export``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from animegan.models.registry import WeightsChecksumError, resolve_weights

    try:
        args.weights = resolve_weights(args.weights)  # a published name, or a path as given
    except (OSError, WeightsChecksumError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not args.weights.is_file():
        print(f"error: --weights {args.weights} does not exist", file=sys.stderr)
        return EXIT_USAGE
    if args.to_pt and args.int8:
        print("error: --to-pt and --int8 exclude each other", file=sys.stderr)
        return EXIT_USAGE
    if args.int8 and (args.calib is None or not args.calib.is_dir()):
        print(
            "error: --int8 needs --calib DIR, a folder of real photos (a few dozen, like the "
            "ones you will stylise) for the activation ranges",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)
    except ImportError:
        pass
    try:
        return _export_pt(args) if args.to_pt else _export_onnx(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
