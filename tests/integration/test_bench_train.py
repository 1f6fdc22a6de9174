"""The training-throughput benchmark runs on CPU at a tiny size and writes its JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_train.py"


def test_bench_train_cpu_tiny(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_train", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "train_throughput.json"
    report = bench.main(
        [
            "--device",
            "cpu",
            "--batch-size",
            "1",
            "--size",
            "32",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--precision",
            "32-true",
            "--out",
            str(out),
        ]
    )
    written = json.loads(out.read_text())
    assert written["speedup_vs_fp32_eager"] == report["speedup_vs_fp32_eager"] > 0
    for path in ("baseline_fp32_eager", "ours"):
        assert written[path]["images_per_s"] > 0 and written[path]["mfu"] > 0
    # G forward alone is 52.6 GFLOP at 256² (REFERENCE.md); a full step at 32² is well above 1/64 of it.
    assert written["gflop_per_image"] > 52.6 / 64
