"""CPU latency of pruned generators, measured round-robin so machine load hits every ratio alike.

    PYTHONPATH=src python experiments/pruning/latency_interleaved.py --weights G.pt \
        --ratios 0 0.2 0.4 0.6 --out experiments/pruning/results/latency_interleaved.json

Each round runs every model once (PyTorch eager fp32 and onnxruntime fp32, ``--threads``
threads, ``--size``² input) after one warm-up round; the median over ``--repeats`` rounds is
reported, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.0, 0.2, 0.4, 0.6])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    import onnxruntime as ort

    from animegan.export.onnx import export_onnx
    from animegan.export.prune import prune_generator
    from animegan.inference.backends import OUTPUT_NAME, PHOTO_INPUT, ort_session_options
    from animegan.models import count_parameters, load_generator

    ort.set_default_logger_severity(3)
    torch.set_num_threads(args.threads)
    teacher = load_generator(args.weights)
    photo = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    photo = photo * 2 - 1
    feed = {PHOTO_INPUT: photo.numpy()}
    models = []
    with tempfile.TemporaryDirectory() as tmp:
        for ratio in args.ratios:
            generator, _ = prune_generator(teacher, ratio)
            session = ort.InferenceSession(
                str(export_onnx(generator, Path(tmp) / f"g{ratio}.onnx")),
                ort_session_options(intra_op_threads=args.threads),
                providers=["CPUExecutionProvider"],
            )
            models.append((ratio, generator, session))
        times: dict[tuple[float, str], list[float]] = {}
        load_before = os.getloadavg()[0]
        for round_index in range(args.repeats + 1):  # round 0 = warm-up
            for ratio, generator, session in models:
                for backend in ("torch", "ort"):
                    start = time.perf_counter()
                    if backend == "torch":
                        with torch.inference_mode():
                            generator(photo)
                    else:
                        session.run([OUTPUT_NAME], feed)
                    if round_index:
                        times.setdefault((ratio, backend), []).append(time.perf_counter() - start)
        load_after = os.getloadavg()[0]
    rows = [
        {
            "ratio": ratio,
            "params": count_parameters(generator),
            "torch_s": statistics.median(times[(ratio, "torch")]),
            "ort_s": statistics.median(times[(ratio, "ort")]),
            "torch_all_s": times[(ratio, "torch")],
            "ort_all_s": times[(ratio, "ort")],
        }
        for ratio, generator, _ in models
    ]
    record = {
        "size": args.size,
        "threads": args.threads,
        "repeats": args.repeats,
        "load_average_1min": [load_before, load_after],
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    for row in rows:
        print(f"ratio {row['ratio']:g}: torch {row['torch_s']:.2f} s, ort {row['ort_s']:.2f} s")
    print(f"load average {load_before:.1f} -> {load_after:.1f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
