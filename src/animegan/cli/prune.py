"""``animegan prune``: structured channel pruning of a trained generator, optional fine-tune.

    animegan prune --weights last.ckpt --ratio 0.4 --out pruned.pt
    animegan prune --weights g.pt --ratio 0.4 --out pruned.pt --finetune-steps 200 --photos DIR
    animegan prune --weights g.pt --ratio 0.4 --out pruned.pt --eval-photos DIR

The output is a plain generator ``.pt`` (same keys, narrower tensors) that ``animegan
stylize`` and ``animegan export`` take like any other. See :mod:`animegan.export.prune`.

Exit status: 0 on success, 2 for a usage or setup error (nothing is written then).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``animegan prune``."""
    parser = argparse.ArgumentParser(
        prog="animegan prune",
        description="Remove the lowest-L1 channels of a generator (couplings kept), "
        "optionally fine-tune towards the unpruned outputs, write a plain .pt.",
    )
    parser.add_argument(
        "--weights", required=True, type=Path, help="training checkpoint (.ckpt) or generator .pt"
    )
    parser.add_argument("--out", required=True, type=Path, help="output generator .pt")
    parser.add_argument(
        "--ratio", required=True, type=float, help="share of each channel set to remove, [0, 1)"
    )
    parser.add_argument(
        "--score",
        default="l1",
        choices=("l1", "l1_gamma"),
        help="channel ranking: L1 norm of the output filter (l1) or times |layer-norm gamma|",
    )
    parser.add_argument(
        "--round-to", type=int, default=1, help="round kept channel counts to a multiple (1)"
    )
    parser.add_argument(
        "--prefix", default="generator.", help="generator key prefix inside a training checkpoint"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    tune = parser.add_argument_group("fine-tune (L1 to the unpruned generator + content)")
    tune.add_argument("--finetune-steps", type=int, default=0, help="steps (0 = no fine-tune)")
    tune.add_argument("--photos", type=Path, help="folder of real photos to fine-tune on")
    tune.add_argument("--finetune-size", type=int, default=128, help="training side (128)")
    tune.add_argument("--finetune-batch", type=int, default=4, help="photos per step (4)")
    tune.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (1e-4)")
    tune.add_argument(
        "--content-weight",
        type=float,
        default=0.0,
        help="weight of the VGG19 content term (0 = L1 only; > 0 needs VGG19 weights)",
    )
    tune.add_argument(
        "--vgg", default="imagenet", choices=("imagenet", "caffe"), help="VGG19 weights kind"
    )
    tune.add_argument("--vgg-weights", type=Path, help="local VGG19 weights file")
    tune.add_argument("--seed", type=int, default=0, help="seed of the fine-tune (0)")
    report = parser.add_argument_group("report")
    report.add_argument(
        "--eval-photos", type=Path, help="folder of photos for PSNR vs the unpruned generator"
    )
    report.add_argument("--eval-count", type=int, default=8, help="photos compared (8)")
    report.add_argument("--eval-size", type=int, default=256, help="comparison side (256)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser


def _check_args(args: argparse.Namespace) -> str | None:
    """Up-front checks; return a message saying what to do, or None."""
    if not args.weights.expanduser().is_file():
        return f"--weights {args.weights} does not exist; pass a generator .pt or a .ckpt"
    if not 0.0 <= args.ratio < 1.0:
        return f"--ratio must be in [0, 1) (share of channels removed), got {args.ratio}"
    if args.round_to < 1:
        return f"--round-to must be >= 1, got {args.round_to}"
    if args.out.expanduser().resolve() == args.weights.expanduser().resolve():
        return "--out must differ from --weights (the source generator is never overwritten)"
    if args.out.exists() and not args.overwrite:
        return f"--out {args.out} exists; pass --overwrite to replace it"
    if args.out.exists() and not args.out.is_file():
        return f"--out {args.out} exists and is not a file"
    if args.finetune_steps < 0:
        return f"--finetune-steps must be >= 0, got {args.finetune_steps}"
    if args.finetune_steps > 0 and (args.photos is None or not args.photos.is_dir()):
        return "--finetune-steps needs --photos DIR, a folder of real photos"
    if args.finetune_size < 8 or args.finetune_batch < 1 or args.lr <= 0:
        return "--finetune-size must be >= 8, --finetune-batch >= 1 and --lr > 0"
    if args.content_weight < 0:
        return f"--content-weight must be >= 0, got {args.content_weight}"
    if args.eval_photos is not None and not args.eval_photos.is_dir():
        return f"--eval-photos {args.eval_photos} is not a folder"
    if args.eval_count < 1 or args.eval_size < 8:
        return "--eval-count must be >= 1 and --eval-size >= 8"
    if args.threads is not None and args.threads < 1:
        return f"--threads must be >= 1, got {args.threads}"
    return None


def _run(args: argparse.Namespace) -> int:
    import torch

    from animegan.export.prune import prune_generator, save_pruned, state_dict_size_mb
    from animegan.export.prune_finetune import finetune_pruned
    from animegan.export.quantize import list_photos, measure_quality
    from animegan.inference.backends import TorchBackend
    from animegan.models import Generator, count_parameters, load_generator

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    teacher = load_generator(args.weights, prefix=args.prefix)
    if type(teacher) is not Generator:
        print(
            f"error: {args.weights} holds a {type(teacher).__name__}; pruning supports the "
            f"AnimeGANv2 Generator layout only",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # Everything that can fail on user input is read before the first slow step.
    tune_photos = list_photos(args.photos) if args.finetune_steps > 0 else []
    eval_photos = list_photos(args.eval_photos, args.eval_count) if args.eval_photos else []
    vgg = None
    if args.finetune_steps > 0 and args.content_weight > 0:
        from animegan.models import VGG19Features

        vgg = VGG19Features(weights=args.vgg, weights_path=args.vgg_weights)

    student, result = prune_generator(teacher, args.ratio, score=args.score, round_to=args.round_to)
    print(result.format())
    before, after = count_parameters(teacher), count_parameters(student)
    print(
        f"parameters {before:,} -> {after:,} ({100 * (1 - after / before):.1f}% fewer), "
        f"{state_dict_size_mb(teacher.state_dict()):.2f} MB -> "
        f"{state_dict_size_mb(student.state_dict()):.2f} MB (fp32)"
    )
    if args.finetune_steps > 0:
        start = time.perf_counter()
        report = finetune_pruned(
            student,
            teacher,
            tune_photos,
            steps=args.finetune_steps,
            batch_size=args.finetune_batch,
            image_size=args.finetune_size,
            lr=args.lr,
            content_weight=args.content_weight,
            vgg=vgg,
            seed=args.seed,
        )
        print(f"{report.format()} in {time.perf_counter() - start:.0f} s")
    path = save_pruned(student, args.out)
    print(f"wrote {path}")
    if eval_photos:
        quality = measure_quality(
            TorchBackend(teacher), TorchBackend(student), eval_photos, size=args.eval_size
        )
        print(f"pruned vs unpruned: {quality.format()}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``animegan prune``; returns the exit status."""
    args = build_parser().parse_args(argv)
    problem = _check_args(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
