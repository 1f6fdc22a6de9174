"""CPU inference benchmark: PyTorch eager vs onnxruntime fp32 vs onnxruntime INT8, one run.

Latency is measured in one process with the three backends interleaved run by run, so a load
change on the machine hits all three alike; peak memory is measured in a fresh process per
backend (peak RSS during one inference minus RSS after loading). Quality is the PSNR of each
onnxruntime model against fp32 PyTorch on real photos that were not used for calibration.

    .venv/bin/python benchmarks/bench_inference.py --calib /path/to/photos --threads 2

Writes benchmarks/results/inference_cpu.json and prints a table. Without --weights a
random-weight generator (seed 0) is used: latency does not depend on the weights, PSNR does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BACKENDS = ("eager", "ort_fp32", "ort_int8")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "inference_cpu.json"


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _cpu_info() -> dict[str, object]:
    info: dict[str, object] = {"logical_cpus": os.cpu_count(), "machine": platform.machine()}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return info
    for line in text.splitlines():
        if line.startswith("model name") and "model" not in info:
            info["model"] = line.split(":", 1)[1].strip()
        if line.startswith("flags") and "flags" not in info:
            flags = set(line.split(":", 1)[1].split())
            info["flags"] = sorted(
                f
                for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
                if f in flags
            )
    return info


def _ort_session(path: str, threads: int, level: str, spin: bool = True):
    import onnxruntime as ort

    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = levels[level]
    options.log_severity_level = 3
    if not spin:
        # Idle worker threads sleep instead of busy-waiting: helps when other processes
        # compete for the same cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _make_runner(backend: str, args: argparse.Namespace, paths: dict[str, str]):
    """Return a zero-argument callable that runs one inference at args.size."""
    size = args.size
    photo = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
    if backend == "eager":
        import torch

        from animegan.models import load_generator

        torch.set_num_threads(args.threads)
        generator = load_generator(paths["weights"]).eval()
        photo_t = torch.from_numpy(photo)

        def run() -> None:
            with torch.inference_mode():
                generator(photo_t)

        return run
    session = _ort_session(paths[backend], args.threads, args.opt_level, not args.no_spin)
    feeds = {"photo": photo}
    return lambda: session.run(["fake_anime"], feeds)


def _worker(args: argparse.Namespace) -> None:
    """Fresh process: load one backend, run once, report memory as JSON on stdout."""
    paths = json.loads(args.paths)
    run = _make_runner(args.worker, args, paths)
    rss_loaded = _status_kb("VmRSS")
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    peak = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "rss_after_load_mb": rss_loaded / 1024,
                "peak_rss_mb": peak / 1024,
                "peak_extra_mb": (peak - rss_loaded) / 1024,
                "first_run_s": first,
            }
        )
    )


def _measure_memory(backend: str, args: argparse.Namespace, paths: dict[str, str]) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        backend,
        "--paths",
        json.dumps(paths),
        "--size",
        str(args.size),
        "--threads",
        str(args.threads),
        "--opt-level",
        args.opt_level,
        *(["--no-spin"] if args.no_spin else []),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _prepare(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, str], dict[str, object]]:
    import torch

    from animegan.export.onnx import check_parity, export_onnx
    from animegan.export.quantize import list_photos, quantize_int8
    from animegan.models import Generator, export_state_dict, load_generator

    if args.weights:
        generator = load_generator(args.weights)
        weights = str(args.weights)
    else:
        torch.manual_seed(0)
        generator = Generator().eval()
        weights = str(export_state_dict(generator, tmp / "random_generator.pt"))
    paths = {"weights": weights}
    info: dict[str, object] = {}
    start = time.perf_counter()
    paths["ort_fp32"] = str(export_onnx(generator, tmp / "generator.onnx"))
    info["export_s"] = time.perf_counter() - start
    parity = check_parity(generator, paths["ort_fp32"], sizes=((args.size, args.size),), batch=1)
    info["parity_max_abs_diff"] = parity.max_abs_diff
    if "ort_int8" in args.backends:
        photos = list_photos(args.calib)
        calib = photos[: args.calib_count]
        info["calibration_photos"] = len(calib)
        start = time.perf_counter()
        paths["ort_int8"] = str(
            quantize_int8(
                paths["ort_fp32"],
                tmp / "generator.int8.onnx",
                calib,
                calibration_size=args.calib_size,
                fp32_layers=args.fp32_layers,
                calibrate_method=args.calibrate_method,
                reduce_range=args.reduce_range,
            )
        )
        info["quantize_s"] = time.perf_counter() - start
    return paths, info


def _quality(args: argparse.Namespace, paths: dict[str, str]) -> dict[str, dict]:
    from animegan.export.quantize import list_photos, measure_quality
    from animegan.inference.backends import OnnxBackend, TorchBackend
    from animegan.models import load_generator

    photos = list_photos(args.calib)
    held_out = photos[args.calib_count : args.calib_count + args.quality_count]
    if not held_out:
        held_out = photos[-args.quality_count :]
    reference = TorchBackend(load_generator(paths["weights"]))
    results = {}
    for backend in ("ort_fp32", "ort_int8"):
        if backend not in paths:
            continue
        candidate = OnnxBackend(
            paths[backend], intra_op_threads=args.threads, graph_optimization_level=args.opt_level
        )
        report = measure_quality(reference, candidate, held_out, size=args.size)
        results[backend] = {
            "psnr_vs_torch_fp32_db": report.psnr_mean_db,
            "psnr_worst_db": report.psnr_min_db,
            "lpips": report.lpips_mean,
            "photos": report.num_images,
        }
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calib", type=Path, help="folder of real photos (INT8 calibration)")
    parser.add_argument("--weights", type=Path, help="generator .pt/.ckpt (default: random)")
    parser.add_argument("--size", type=int, default=512, help="square input side (pixels)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads, all backends")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per backend")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per backend")
    parser.add_argument(
        "--opt-level", default="all", choices=("disable", "basic", "extended", "all")
    )
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated subset")
    parser.add_argument(
        "--fp32-layers",
        default="block_a.0,out_layer",
        help="generator layers whose convs stay fp32 in INT8 ('' = none)",
    )
    parser.add_argument(
        "--calibrate-method", default="minmax", choices=("minmax", "entropy", "percentile")
    )
    parser.add_argument("--reduce-range", action="store_true", help="7-bit INT8 weights")
    parser.add_argument("--calib-count", type=int, default=16, help="calibration photos")
    parser.add_argument("--calib-size", type=int, default=256, help="calibration side (pixels)")
    parser.add_argument("--quality-count", type=int, default=4, help="held-out photos for PSNR")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory workers")
    parser.add_argument(
        "--no-spin",
        action="store_true",
        help="onnxruntime threads sleep instead of spinning when idle",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.fp32_layers = tuple(x for x in args.fp32_layers.split(",") if x)
    if args.worker:
        _worker(args)
        return
    args.backends = tuple(b for b in args.backends.split(",") if b)
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; choose from {BACKENDS}")
    if args.calib is None and "ort_int8" in args.backends:
        print("note: no --calib DIR of real photos, so no INT8 model and no PSNR figures")
        args.backends = tuple(b for b in args.backends if b != "ort_int8")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="animegan-bench-") as tmp_name:
        paths, prep = _prepare(args, Path(tmp_name))
        runners = {b: _make_runner(b, args, paths) for b in args.backends}
        for _ in range(args.warmup):
            for run in runners.values():
                run()
        times: dict[str, list[float]] = {b: [] for b in args.backends}
        for _ in range(args.runs):
            for backend, run in runners.items():
                start = time.perf_counter()
                run()
                times[backend].append(time.perf_counter() - start)
        del runners
        memory = {}
        if not args.no_memory:
            memory = {b: _measure_memory(b, args, paths) for b in args.backends}
        quality = _quality(args, paths) if args.calib is not None else {}
    load_end = os.getloadavg()

    eager_median = statistics.median(times["eager"]) if "eager" in times else None
    import onnxruntime
    import torch

    rows = []
    for backend in args.backends:
        median = statistics.median(times[backend])
        row = {
            "backend": backend,
            "median_s": median,
            "min_s": min(times[backend]),
            "runs_s": times[backend],
            "vs_eager": median / eager_median if eager_median else None,
            **memory.get(backend, {}),
            **quality.get(backend, {}),
        }
        rows.append(row)

    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpu": _cpu_info(),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "settings": {
            "size": args.size,
            "threads": args.threads,
            "runs": args.runs,
            "warmup": args.warmup,
            "opt_level": args.opt_level,
            "ort_spinning": not args.no_spin,
            "fp32_layers": list(args.fp32_layers),
            "calibrate_method": args.calibrate_method,
            "reduce_range": args.reduce_range,
            "calib_count": args.calib_count,
            "calib_size": args.calib_size,
            "weights": str(args.weights) if args.weights else "random (seed 0)",
        },
        "preparation": prep,
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(
        f"\n{args.size}x{args.size}, {args.threads} threads, opt level {args.opt_level}, "
        f"load avg {load_start[0]:.1f} -> {load_end[0]:.1f}"
    )
    header = (
        f"{'backend':<10} {'median s':>9} {'min s':>7} {'x eager':>8} {'peak+MB':>8} {'PSNR dB':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row['vs_eager']:.2f}" if row["vs_eager"] is not None else "-"
        mem = f"{row['peak_extra_mb']:.0f}" if "peak_extra_mb" in row else "-"
        quality_db = row.get("psnr_vs_torch_fp32_db")
        q = f"{quality_db:.1f}" if quality_db is not None else "-"
        print(
            f"{row['backend']:<10} {row['median_s']:>9.3f} {row['min_s']:>7.3f} {ratio:>8} "
            f"{mem:>8} {q:>8}"
        )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
