"""CPU latency of the full, the lite (= a distilled student) and pruned generators, interleaved.

Every generator runs in the same loop (full, lite, pruned..., full, ...) so a load change on a
shared machine hits them alike; the ratios are then more trustworthy than separate benchmark runs.
Random weights (seed 0): latency does not depend on them. A distilled student is a lite generator,
so its latency is the lite one's; ``--prune 0.2 0.4`` adds channel-pruned copies of the full one.

    .venv/bin/python benchmarks/compare_generators_cpu.py --size 512 --threads 2 --runs 5 --prune 0.2 0.4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="square input side (pixels)")
    parser.add_argument("--threads", type=int, default=2, help="torch / onnxruntime threads")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per model")
    parser.add_argument("--out", type=Path, help="optional JSON results file")
    parser.add_argument(
        "--prune", type=float, nargs="*", default=[], help="also time the full one pruned at these ratios"
    )
    args = parser.parse_args()

    import onnxruntime as ort

    from animegan.export import export_onnx
    from animegan.export.prune import prune_generator
    from animegan.inference.backends import ort_session_options
    from animegan.models import Generator, GeneratorLite, count_parameters

    torch.set_num_threads(args.threads)
    ort.set_default_logger_severity(3)
    photo = torch.rand(1, 3, args.size, args.size) * 2 - 1
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        builders = {"full": Generator().eval(), "lite": GeneratorLite().eval()}
        for ratio in args.prune:
            builders[f"pruned{ratio:g}"] = prune_generator(builders["full"], ratio)[0].eval()
        for name, generator in builders.items():
            path = export_onnx(generator, Path(tmp) / f"{name}.onnx")
            options = ort_session_options(intra_op_threads=args.threads)
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            models[name] = (generator, session)
        calls = {
            f"{name}_{kind}": fn
            for name, (generator, session) in models.items()
            for kind, fn in (
                ("eager", lambda g=generator: g(photo)),
                ("ort_fp32", lambda s=session: s.run(["fake_anime"], {"photo": photo.numpy()})),
            )
        }
        times: dict[str, list[float]] = {key: [] for key in calls}
        load_before = os.getloadavg()[0]
        with torch.inference_mode():
            for call in calls.values():  # warm-up
                call()
            for _ in range(args.runs):
                for key, call in calls.items():
                    start = time.perf_counter()
                    call()
                    times[key].append(time.perf_counter() - start)
    load_after = os.getloadavg()[0]
    report = {
        "size": args.size,
        "threads": args.threads,
        "runs": args.runs,
        "load_avg_before_after": [load_before, load_after],
        "parameters": {name: count_parameters(g) for name, (g, _) in models.items()},
        "median_s": {k: statistics.median(v) for k, v in times.items()},
        "min_s": {k: min(v) for k, v in times.items()},
    }
    print(f"{args.size}x{args.size}, {args.threads} threads, load avg {load_before:.1f} -> "
          f"{load_after:.1f}, median (min) of {args.runs}")
    for key in times:
        print(f"  {key:<14} {report['median_s'][key]:7.3f} s ({report['min_s'][key]:.3f})")
    for name in models:
        if name == "full":
            continue
        for kind in ("eager", "ort_fp32"):
            ratio = np.median(np.array(times[f"{name}_{kind}"]) / np.array(times[f"full_{kind}"]))
            print(f"  {name} / full {kind}: {ratio:.2f} (median of per-round ratios)")
            report[f"{name}_over_full_{kind}"] = float(ratio)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
