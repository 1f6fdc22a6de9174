"""Does the fast path train the same model? perf=fast judged against fp32's own spread.

GAN training with Adam is chaotic: two fp32 runs that differ only in rounding order drift apart
within a few dozen steps (Adam moves a weight by about lr whatever its gradient's size, so a 1e-7
difference that flips a tiny gradient's sign becomes a full step). So "the fast path's curves equal
fp32's" is a property no path has, and one fp32 control run is too thin a yardstick (on seed 7
of an earlier check an fp32 + compile run left a single control's band by more than bf16 did).
This check builds the yardstick from several fp32 variants × several seeds.

Runs, per seed, the real training command (``experiment=numerics_check``: GAN phase from the
first batch, every loss term logged each batch) on the same real images and data order:

* ``reference``: fp32 eager (``perf=eager``, contiguous tensors, for-each Adam);
* fp32 variants (``--fp32-variants``), each the same function in exact arithmetic with another
  rounding order: ``channels_last`` (NHWC tensors and weights: other conv kernels),
  ``cl_fused`` (channels-last + fused Adam), ``compile`` (channels-last + fused Adam +
  torch.compile of G, D and VGG: inductor's fused kernels; ``perf=fast`` minus bf16);
* ``fast``: ``perf=fast`` (bf16 autocast + channels-last + torch.compile + fused Adam).

All fp32 runs use ``trainer.precision=32-true matmul_precision=highest`` (no TF32 anywhere).

Criterion (``CRITERION`` below; stated before any run, written into the JSON): see its text.
The verdict is ``passed``, ``failed`` or ``inconclusive`` (the criterion flags an fp32 run of its
own, so it cannot tell bf16 from chaos at this size and length). Exit status 0, 1, 3.

    python benchmarks/numerics_check.py --seeds 1 2 3 --size 64 --batch-size 4 --steps 60 \
        --window 10                                                # CPU (see TRAIN_SPEED.md)
    python benchmarks/numerics_check.py --accelerator gpu --data DIR --size 256 --batch-size 32 \
        --workers 8 --steps 200 --seeds 1 2 3                     # GPU

Writes ``--out`` (JSON: verdict per seed, per-term statistics, calibration, commands, wall times)
and the curves beside it as CSV. ``--reuse`` keeps finished runs found in ``--workdir`` (to
re-judge without retraining).
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
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from animegan.evaluation.metrics_csv import read_metrics_csv

REPO = Path(__file__).resolve().parents[1]
Curves = dict[str, list[float]]
# Run name -> curves (one seed).
SeedRuns = dict[str, Curves]
# Absolute floor of the first-batch check, for terms whose first value is near zero.
FIRST_STEP_ATOL = 1e-3
FP32 = ("trainer.precision=32-true", "matmul_precision=highest")

CRITERION = (
    "Per seed s and logged loss term t, drift(X, s, t) = mean over consecutive W-batch windows of "
    "|window mean of run X - window mean of the fp32 eager reference of seed s|. "
    "fp32 band(t) = max of drift(V, s', t) over every fp32 variant V and every seed s' (pooled: "
    "the spread fp32 itself produces at this size, batch and length). "
    "The fast path passes seed s iff, for every term t: every logged value of every run of s is "
    "finite and no run skipped an update; its first-batch value (same weights, same data: the "
    "precision effect alone) is within first_rtol of the reference's (or 1e-3 absolute); and "
    "drift(fast, s, t) <= margin x band(t) (or <= atol). "
    "Calibration, stated with it: each fp32 run (V, s) is judged by the same rule against the band "
    "of the other fp32 runs (leave-one-out). If any fp32 run fails its calibration, the criterion "
    "is too tight for fp32 itself at this setting and the verdict is 'inconclusive' whatever the "
    "fast path did; otherwise 'passed' iff every seed passes, else 'failed'."
)


@dataclass(frozen=True)
class Variant:
    """One training configuration of the check: Hydra overrides and what they change."""

    overrides: tuple[str, ...]
    description: str
    fp32: bool = True
    compiles: bool = False


VARIANTS: dict[str, Variant] = {
    "reference": Variant(("perf=eager", *FP32), "fp32 eager, contiguous tensors, for-each Adam"),
    "channels_last": Variant(
        ("perf=eager", "module.channels_last=true", *FP32), "fp32, channels-last tensors/weights"
    ),
    "cl_fused": Variant(
        ("perf=fast", "module.compile=false", *FP32), "fp32, channels-last + fused Adam"
    ),
    "compile": Variant(
        ("perf=fast", *FP32),
        "fp32, channels-last + fused Adam + torch.compile (perf=fast minus bf16)",
        compiles=True,
    ),
    "fast": Variant(
        ("perf=fast",),
        "perf=fast: bf16 autocast + channels-last + torch.compile + fused Adam",
        fp32=False,
        compiles=True,
    ),
}


def read_step_curves(metrics_csv: Path) -> Curves:
    """Per-batch values of every ``loss/<term>_step`` column (plus ``train/skipped_updates``).

    Lightning's CSV logger writes one row per logging call; rows without a value for a column
    (epoch-end rows) are ignored for that column.
    """
    table = read_metrics_csv(metrics_csv)
    if not table.rows:
        return {}
    columns = [c for c in table.columns if c.startswith("loss/") and c.endswith("_step")]
    columns += ["train/skipped_updates"] if "train/skipped_updates" in table.columns else []
    return {
        c.removeprefix("loss/").removesuffix("_step").removeprefix("train/"): table.values(c)
        for c in columns
    }


def window_means(values: Sequence[float], window: int) -> list[float]:
    """Means of consecutive, non-overlapping windows of ``window`` values (a short tail dropped)."""
    return [
        statistics.fmean(values[start : start + window])
        for start in range(0, len(values) - window + 1, window)
    ]


def drift(reference: Sequence[float], other: Sequence[float], window: int) -> float:
    """Mean over windows of |window mean of ``other`` − window mean of ``reference``|.

    Both sequences are cut to the shorter length first. Units: those of the loss term.
    """
    steps = min(len(reference), len(other))
    pairs = zip(
        window_means(reference[:steps], window), window_means(other[:steps], window), strict=True
    )
    return statistics.fmean(abs(y - x) for x, y in pairs)


def _skipped(curves: Curves) -> float:
    return (curves.get("skipped_updates") or [0.0])[-1]


def _finite(curves: Curves, terms: Sequence[str]) -> bool:
    return all(math.isfinite(v) for t in terms for v in curves.get(t, []))


def judge(
    runs: Mapping[int, SeedRuns],
    fp32_variants: Sequence[str],
    *,
    window: int,
    margin: float,
    atol: float,
    first_rtol: float,
) -> dict[str, Any]:
    """Apply ``CRITERION`` to finished runs.

    Args:
        runs: seed -> run name -> curves; every seed holds ``reference``, ``fast`` and each of
            ``fp32_variants``.
        fp32_variants: the fp32 runs whose drifts from the reference make the band (at least one).
        window: batches per window (≥ 1).
        margin: multiple of the band the fast drift may reach (≥ 1 keeps the band's meaning).
        atol: absolute drift always accepted (loss units; 0 = none).
        first_rtol: relative first-batch tolerance of the fast path (e.g. 0.02 = 2 %).

    Returns:
        ``verdict`` (passed | failed | inconclusive), ``seeds`` (per-seed verdict and per-term
        statistics), ``band`` (per term), ``calibration`` (leave-one-out of every fp32 run).
    """
    if not fp32_variants:
        raise ValueError("the band needs at least one fp32 variant besides the reference")
    seeds = sorted(runs)
    names = ("reference", "fast", *fp32_variants)
    terms = sorted(
        set.intersection(*(set(runs[s][n]) for s in seeds for n in names)) - {"skipped_updates"}
    )
    steps = min(len(runs[s][n][t]) for s in seeds for n in names for t in terms) if terms else 0
    if not terms or steps < window:
        return {
            "verdict": "failed",
            "reason": f"{steps} logged batches (< window {window}) or no common loss term",
            "terms": terms,
            "seeds": {},
            "band": {},
            "calibration": {},
        }
    cut = {s: {n: {t: runs[s][n][t][:steps] for t in terms} for n in names} for s in seeds}
    drifts = {
        (n, s): {t: drift(cut[s]["reference"][t], cut[s][n][t], window) for t in terms}
        for s in seeds
        for n in ("fast", *fp32_variants)
    }
    fp32_runs = [(n, s) for s in seeds for n in fp32_variants]
    band = {t: max(drifts[run][t] for run in fp32_runs) for t in terms}
    sound = {
        (n, s): _finite(runs[s][n], terms) and not _skipped(runs[s][n])
        for s in seeds
        for n in names
    }
    healthy = {s: all(sound[(n, s)] for n in names) for s in seeds}

    calibration: dict[str, Any] = {}
    for run in fp32_runs:
        others = [o for o in fp32_runs if o != run]
        outside = {}
        for t in terms:
            loo_band = max((drifts[o][t] for o in others), default=0.0)
            if drifts[run][t] > max(margin * loo_band, atol):
                outside[t] = drifts[run][t] / loo_band if loo_band else math.inf
        calibration[f"{run[0]}@seed{run[1]}"] = {
            "passed": not outside and sound[run] and sound[("reference", run[1])],
            "terms_outside": outside,  # term -> drift / (band of the other fp32 runs)
        }

    per_seed: dict[str, Any] = {}
    for s in seeds:
        ref, new = cut[s]["reference"], cut[s]["fast"]
        stats = {}
        for t in terms:
            fast_drift = drifts[("fast", s)][t]
            first_diff = abs(new[t][0] - ref[t][0])
            first_ok = first_diff <= max(first_rtol * abs(ref[t][0]), FIRST_STEP_ATOL)
            within = fast_drift <= max(margin * band[t], atol)
            pooled = [drifts[run][t] for run in fp32_runs]
            stats[t] = {
                "passed": within and first_ok,
                "reference_level": statistics.fmean(abs(v) for v in window_means(ref[t], window)),
                "fast_drift": fast_drift,
                "fp32_drifts_this_seed": {n: drifts[(n, s)][t] for n in fp32_variants},
                "band": band[t],
                "allowed": max(margin * band[t], atol),
                "fast_drift_vs_band": fast_drift / band[t] if band[t] else math.inf,
                # Share of the pooled fp32 drifts the fast drift exceeds (1.0 = above them all).
                "fast_drift_rank": sum(d < fast_drift for d in pooled) / len(pooled),
                "first_step": {"reference": ref[t][0], "fast": new[t][0]},
                "first_step_rel_diff": first_diff / abs(ref[t][0]) if ref[t][0] else math.inf,
                "window_means": {n: window_means(cut[s][n][t], window) for n in names},
            }
        seed_ok = healthy[s] and all(v["passed"] for v in stats.values())
        per_seed[str(s)] = {
            "verdict": "passed" if seed_ok else "failed",
            "all_finite_no_skips": healthy[s],
            "skipped_updates": {n: _skipped(runs[s][n]) for n in names},
            "terms_outside": sorted(t for t, v in stats.items() if not v["passed"]),
            "terms": stats,
        }
    calibrated = all(c["passed"] for c in calibration.values())
    every_seed = all(v["verdict"] == "passed" for v in per_seed.values())
    verdict = "inconclusive" if not calibrated else ("passed" if every_seed else "failed")
    return {
        "verdict": verdict,
        "steps": steps,
        "terms": terms,
        "band": band,
        "calibration": calibration,
        "seeds": per_seed,
    }


def train_command(*, variant: str, seed: int, run_dir: Path, args: argparse.Namespace) -> list[str]:
    """The training command of one run (the real CLI, so configs and callbacks are the product's)."""
    overrides = [
        "experiment=numerics_check",
        f"trainer={'gpu' if args.accelerator == 'gpu' else 'cpu'}",
        f"data.root={args.data.resolve()}",
        f"data.image_size={args.size}",
        f"data.batch_size={args.batch_size}",
        f"data.num_workers={args.workers}",
        f"data.persistent_workers={str(args.workers > 0).lower()}",
        f"data.pin_memory={str(args.accelerator == 'gpu').lower()}",
        f"trainer.max_steps={2 * args.steps}",  # optimizer steps: a D and a G update per batch
        f"seed={seed}",
        f"paths.cache_dir={args.workdir.resolve() / 'cache'}",
        f"hydra.run.dir={run_dir}",
    ]
    if args.vgg_weights in ("random", "imagenet"):
        overrides.append(f"model.vgg.weights={args.vgg_weights}")
    else:  # a local torchvision vgg19 .pth file
        overrides += ["model.vgg.weights=imagenet", f"model.vgg.weights_path={args.vgg_weights}"]
    overrides += VARIANTS[variant].overrides
    if variant == "fast" and not args.compile:
        overrides.append("module.compile=false")
    return [sys.executable, "-m", "animegan.cli.train", *overrides, *args.overrides]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    fp32_choices = sorted(n for n, v in VARIANTS.items() if v.fp32 and n != "reference")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/selfie2anime/train")
    parser.add_argument("--accelerator", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--steps", type=int, default=60, help="GAN batches (D + G update each)")
    parser.add_argument("--size", type=int, default=64, help="image side, pixels")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--fp32-variants",
        nargs="+",
        default=["channels_last", "compile"],
        choices=fp32_choices,
        help="fp32 runs that make the band (with the seeds)",
    )
    parser.add_argument(
        "--vgg-weights",
        default="random",
        help="VGG19 weights: a .pth path, 'imagenet' (torch cache), or 'random' (offline)",
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compile the fast path (--no-compile: bf16 + channels-last + fused Adam only)",
    )
    parser.add_argument("--window", type=int, default=10, help="batches per window")
    parser.add_argument("--margin", type=float, default=1.5, help="x the pooled fp32 band")
    parser.add_argument("--atol", type=float, default=0.0, help="drift always accepted")
    parser.add_argument("--first-rtol", type=float, default=0.02)
    parser.add_argument("--reuse", action="store_true", help="keep finished runs in --workdir")
    parser.add_argument("--workdir", type=Path, default=Path("outputs/numerics_check"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/numerics_cpu.json"))
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args(argv)
    if args.steps < args.window or args.window < 1:
        parser.error(f"--steps ({args.steps}) must be at least one --window ({args.window}) >= 1")
    if args.margin < 1:
        parser.error(f"--margin {args.margin} < 1 would reject fp32's own spread; use >= 1")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds {args.seeds} repeats a seed")
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder (it needs photo/ and anime/ inside)")
    return args


def _write_curves(path: Path, runs: Mapping[int, SeedRuns], names: Sequence[str]) -> None:
    """One row per (seed, batch); columns ``<term>_<run>``."""
    first = runs[min(runs)]
    terms = sorted(set.intersection(*(set(first[n]) for n in names)) - {"skipped_updates"})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seed", "batch", *(f"{t}_{n}" for t in terms for n in names)])
        for seed, seed_runs in sorted(runs.items()):
            steps = min(len(seed_runs[n].get(t, [])) for n in names for t in terms)
            for step in range(steps):
                values = (f"{seed_runs[n][t][step]:.6g}" for t in terms for n in names)
                writer.writerow([seed, step, *values])


def _run(variant: str, seed: int, args: argparse.Namespace) -> tuple[str, float | None, Curves]:
    """Train one run (or reuse its finished run); returns command, wall seconds, curves."""
    run_dir = (args.workdir / f"seed{seed}" / variant).resolve()
    command = train_command(variant=variant, seed=seed, run_dir=run_dir, args=args)
    metrics, wall_file, command_file = (
        run_dir / "metrics.csv",
        run_dir / "wall_s.txt",
        run_dir / "command.txt",
    )
    text = " ".join(command[1:])
    if args.reuse and metrics.is_file() and command_file.is_file():
        curves = read_step_curves(metrics)
        same = command_file.read_text() == text
        if same and min((len(v) for v in curves.values()), default=0) >= args.steps:
            print(f"[seed {seed} {variant}] reusing {metrics}", flush=True)
            return text, float(wall_file.read_text()) if wall_file.is_file() else None, curves
    print(f"[seed {seed} {variant}] {text}", flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall = time.perf_counter() - start
    wall_file.write_text(f"{wall:.1f}")
    command_file.write_text(text)
    return text, wall, read_step_curves(metrics)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every (seed, variant), judge, write the JSON and CSV; returns the report."""
    args = _parse(argv)
    names = ("reference", *args.fp32_variants, "fast")
    tolerance = {
        "window": args.window,
        "margin": args.margin,
        "atol": args.atol,
        "first_rtol": args.first_rtol,
    }
    print(f"criterion: {CRITERION}\nparameters: {tolerance}", flush=True)
    finished = {(s, n): _run(n, s, args) for s in args.seeds for n in names}
    runs = {s: {n: finished[(s, n)][2] for n in names} for s in args.seeds}
    verdict = judge(runs, args.fp32_variants, **tolerance)
    report = {
        "date": date.today().isoformat(),
        "data": str(args.data),
        "accelerator": args.accelerator,
        "steps": args.steps,
        "size": args.size,
        "batch_size": args.batch_size,
        "seeds": args.seeds,
        "vgg_weights": args.vgg_weights,
        "variants": {n: VARIANTS[n].description for n in names},
        "fast_compiled": args.compile,
        "criterion": CRITERION,
        "tolerance": tolerance,
        "command": " ".join(["python benchmarks/numerics_check.py", *(argv or sys.argv[1:])]),
        "wall_s": {f"{n}@seed{s}": finished[(s, n)][1] for s in args.seeds for n in names},
        "run_commands": {f"{n}@seed{s}": finished[(s, n)][0] for s in args.seeds for n in names},
        **verdict,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    _write_curves(args.out.with_name(args.out.stem + "_curves.csv"), runs, names)
    _print(report)
    return report


def _print(report: Mapping[str, Any]) -> None:
    """A short table: per seed and term, fast drift against the pooled fp32 band."""
    tol = report["tolerance"]
    for seed, result in report["seeds"].items():
        print(f"seed {seed}: {result['verdict'].upper()}")
        print(
            f"  {'term':<10}{'level':>10}{'fast drift':>12}{'fp32 band':>11}{'x band':>8}"
            f"{'1st batch':>10}"
        )
        for name, t in result["terms"].items():
            print(
                f"  {name:<10}{t['reference_level']:>10.4g}{t['fast_drift']:>12.4g}"
                f"{t['band']:>11.4g}{t['fast_drift_vs_band']:>8.2f}"
                f"{t['first_step_rel_diff']:>10.2%}  {'ok' if t['passed'] else 'OUT'}"
            )
    failed = [run for run, c in report["calibration"].items() if not c["passed"]]
    print(
        f"calibration (each fp32 run against the other fp32 runs' band): "
        f"{'all inside' if not failed else 'OUTSIDE: ' + ', '.join(failed)}"
    )
    print(
        f"margin {tol['margin']:g} x pooled fp32 band, {tol['window']}-batch windows, first batch "
        f"within {tol['first_rtol']:.0%} -> {report['verdict'].upper()}"
    )


EXIT_STATUS = {"passed": 0, "failed": 1, "inconclusive": 3}

if __name__ == "__main__":
    sys.exit(EXIT_STATUS[main()["verdict"]])
