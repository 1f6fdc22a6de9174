"""Does the fast path train the same model? Loss curves of perf=fast against the fp32 eager path.

Runs the real training command twice on the same real images, seed and data order
(``experiment=numerics_check``: GAN phase from the first batch, every loss term logged each step):

* ``reference``: ``perf=eager trainer.precision=32-true`` (fp32, contiguous tensors, default Adam);
* ``fast``: ``perf=fast`` (bf16 autocast, channels-last, fused Adam, and torch.compile unless
  ``--no-compile``),

then compares every logged loss term step by step from the two ``metrics.csv`` files.

Tolerance (stated before running, checked after): over windows of ``--window`` steps (default 20),
each term's mean on the fast path is within ``--rtol`` (default 5 %) of the reference window mean,
or within ``--atol`` (default 0.02, for terms near zero such as a balanced adversarial loss). No
logged value may be NaN/Inf and the NaN/Inf guard must have skipped no update on either path.
Step-by-step values are reported too (first step: the precision effect alone, same weights; later
steps: trajectories drift apart as the two runs' weights do), but not judged: GAN training is not
reproducible step for step across precisions, its curves are.

    python benchmarks/numerics_check.py --data ../shared/data/selfie2anime/train   # CPU: 128², batch 4
    python benchmarks/numerics_check.py --data DIR --size 256 --batch-size 32 --accelerator gpu \
        --vgg-weights ~/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth

Writes ``--out`` (JSON: verdict, per-term window statistics, commands, wall times) and the curves
beside it as CSV. Exit status 1 when the tolerance is not met.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
Curves = dict[str, list[float]]


def read_step_curves(metrics_csv: Path) -> Curves:
    """Per-batch values of every ``loss/<term>_step`` column (plus ``train/skipped_updates``).

    Lightning's CSV logger writes one row per logging call; rows without a value for a column
    (epoch-end rows) are ignored for that column.
    """
    with metrics_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = [
        c for c in (rows[0] if rows else {}) if c.startswith("loss/") and c.endswith("_step")
    ]
    columns += ["train/skipped_updates"] if rows and "train/skipped_updates" in rows[0] else []
    curves: Curves = {}
    for column in columns:
        name = column.removeprefix("loss/").removesuffix("_step").removeprefix("train/")
        curves[name] = [float(row[column]) for row in rows if row.get(column, "") != ""]
    return curves


def window_means(values: Sequence[float], window: int) -> list[float]:
    """Means of consecutive, non-overlapping windows of ``window`` values (a short tail dropped)."""
    return [
        statistics.fmean(values[start : start + window])
        for start in range(0, len(values) - window + 1, window)
    ]


def compare_curves(
    reference: Curves, fast: Curves, *, window: int, rtol: float, atol: float
) -> dict[str, Any]:
    """Per-term comparison; ``passed`` when every window mean is within tolerance and all finite."""
    terms: dict[str, Any] = {}
    passed = True
    for name in sorted(set(reference) & set(fast) - {"skipped_updates"}):
        ref, new = reference[name], fast[name]
        steps = min(len(ref), len(new))
        ref, new = ref[:steps], new[:steps]
        finite = all(math.isfinite(v) for v in ref + new)
        ref_windows, new_windows = window_means(ref, window), window_means(new, window)
        deviations = [abs(b - a) for a, b in zip(ref_windows, new_windows, strict=True)]
        within = [
            d <= max(atol, rtol * abs(a)) for d, a in zip(deviations, ref_windows, strict=True)
        ]
        relative = [
            d / abs(a) if a else math.inf for d, a in zip(deviations, ref_windows, strict=True)
        ]
        step_diffs = [abs(b - a) for a, b in zip(ref, new, strict=True)]
        term_ok = finite and bool(within) and all(within)
        passed &= term_ok
        terms[name] = {
            "passed": term_ok,
            "steps": steps,
            "all_finite": finite,
            "reference_window_means": ref_windows,
            "fast_window_means": new_windows,
            "max_window_abs_deviation": max(deviations, default=math.nan),
            "max_window_rel_deviation": max(relative, default=math.nan),
            "first_step": {"reference": ref[0], "fast": new[0]} if steps else None,
            "first_step_rel_diff": abs(new[0] - ref[0]) / abs(ref[0]) if steps and ref[0] else None,
            "median_step_abs_diff": statistics.median(step_diffs) if step_diffs else math.nan,
        }
    skipped = {
        "reference": (reference.get("skipped_updates") or [0.0])[-1],
        "fast": (fast.get("skipped_updates") or [0.0])[-1],
    }
    passed &= bool(terms) and skipped["reference"] == 0 and skipped["fast"] == 0
    return {"passed": passed, "terms": terms, "skipped_updates": skipped}


def train_command(*, path: str, data: Path, run_dir: Path, args: argparse.Namespace) -> list[str]:
    """The training command of one path (the real CLI, so configs and callbacks are the product's)."""
    overrides = [
        "experiment=numerics_check",
        f"trainer={'gpu' if args.accelerator == 'gpu' else 'cpu'}",
        f"data.root={data.resolve()}",
        f"data.image_size={args.size}",
        f"data.batch_size={args.batch_size}",
        f"data.num_workers={args.workers}",
        f"data.persistent_workers={str(args.workers > 0).lower()}",
        f"data.pin_memory={str(args.accelerator == 'gpu').lower()}",
        f"trainer.max_steps={2 * args.steps}",  # optimizer steps: a D and a G update per batch
        f"seed={args.seed}",
        f"paths.cache_dir={run_dir.parent / 'cache'}",
        f"hydra.run.dir={run_dir}",
    ]
    if args.vgg_weights in ("random", "imagenet"):
        overrides.append(f"model.vgg.weights={args.vgg_weights}")
    else:  # a local torchvision vgg19 .pth file
        overrides += ["model.vgg.weights=imagenet", f"model.vgg.weights_path={args.vgg_weights}"]
    if path == "reference":
        overrides += ["perf=eager", "trainer.precision=32-true", "matmul_precision=highest"]
    else:
        overrides += ["perf=fast"] + ([] if args.compile else ["module.compile=false"])
    return [sys.executable, "-m", "animegan.cli.train", *overrides, *args.overrides]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/selfie2anime/train")
    parser.add_argument("--accelerator", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--steps", type=int, default=200, help="GAN batches (D + G update each)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--vgg-weights",
        default="random",
        help="VGG19 weights: a .pth path, 'imagenet' (torch cache), or 'random' (offline)",
    )
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--rtol", type=float, default=0.05)
    parser.add_argument("--atol", type=float, default=0.02)
    parser.add_argument("--workdir", type=Path, default=Path("outputs/numerics_check"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/numerics_cpu.json"))
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for both runs")
    args = parser.parse_args(argv)
    if args.steps < args.window:
        parser.error(f"--steps ({args.steps}) must be at least one --window ({args.window})")
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder (it needs photo/ and anime/ inside)")
    return args


def _write_curves(path: Path, reference: Curves, fast: Curves) -> None:
    names = sorted(set(reference) & set(fast))
    steps = min((min(len(reference[n]), len(fast[n])) for n in names), default=0)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["batch", *(f"{n}_{p}" for n in names for p in ("reference", "fast"))])
        for step in range(steps):
            writer.writerow(
                [step, *(f"{c[n][step]:.6g}" for n in names for c in (reference, fast))]
            )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = _parse(argv)
    curves: dict[str, Curves] = {}
    commands: dict[str, list[str]] = {}
    wall: dict[str, float] = {}
    for path in ("reference", "fast"):
        run_dir = (args.workdir / path).resolve()
        command = train_command(path=path, data=args.data, run_dir=run_dir, args=args)
        commands[path] = command
        print(f"[{path}] {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wall[path] = time.perf_counter() - start
        curves[path] = read_step_curves(run_dir / "metrics.csv")

    verdict = compare_curves(
        curves["reference"], curves["fast"], window=args.window, rtol=args.rtol, atol=args.atol
    )
    report = {
        "date": date.today().isoformat(),
        "data": str(args.data),
        "steps": args.steps,
        "size": args.size,
        "batch_size": args.batch_size,
        "vgg_weights": args.vgg_weights,
        "compile": args.compile,
        "tolerance": {"window": args.window, "rtol": args.rtol, "atol": args.atol},
        "wall_s": wall,
        "commands": {k: " ".join(v[1:]) for k, v in commands.items()},
        **verdict,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    _write_curves(
        args.out.with_name(args.out.stem + "_curves.csv"), curves["reference"], curves["fast"]
    )
    _print(report)
    return report


def _print(report: Mapping[str, Any]) -> None:
    print(f"{'term':<12}{'max window dev':>16}{'rel':>9}{'1st step rel':>14}  verdict")
    for name, term in report["terms"].items():
        first = term["first_step_rel_diff"]
        print(
            f"{name:<12}{term['max_window_abs_deviation']:>16.4g}"
            f"{term['max_window_rel_deviation']:>9.2%}"
            f"{'' if first is None else format(first, '.2%'):>14}  {'ok' if term['passed'] else 'OUT'}"
        )
    tol = report["tolerance"]
    print(
        f"skipped updates {report['skipped_updates']}; tolerance: {tol['window']}-step window means "
        f"within {tol['rtol']:.0%} or {tol['atol']} → {'PASSED' if report['passed'] else 'FAILED'}"
    )


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
