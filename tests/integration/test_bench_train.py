"""The training-throughput benchmark runs on CPU at a tiny size, end to end, and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_bench_train_cpu_tiny_with_ladder_and_real_data(
    tmp_path: Path, load_benchmark, unpaired_folder
) -> None:
    bench = load_benchmark("bench_train")
    out = tmp_path / "train_throughput.json"
    data = unpaired_folder(2)  # 3 batches needed: the run crosses an epoch
    bench.main(
        ["--device", "cpu", "--batch-size", "1", "--size", "32", "--steps", "2", "--warmup", "1"]
        + ["--precision", "bf16-mixed", "--channels-last", "--fused", "--ladder"]
        + ["--data", str(data), "--workers", "1", "--out", str(out)]
    )
    written = json.loads(out.read_text())
    # The speedup is the ratio of the two throughputs the file itself reports.
    throughputs = written["ours"]["images_per_s"], written["baseline_fp32_eager"]["images_per_s"]
    assert written["speedup_vs_fp32_eager"] == pytest.approx(throughputs[0] / throughputs[1])
    for path in ("baseline_fp32_eager", "ours", "end_to_end"):
        assert written[path]["images_per_s"] > 0 and written[path]["mfu"] > 0
        assert written[path]["peak_memory_gb"] > 0
    assert written["loader"]["images_per_s"] > 0 and "data_keeps_up" in written
    assert 0 <= written["end_to_end"]["data_wait_share"] < 1
    # One rung per lever asked for (compile was not), cumulative, starting from the baseline.
    rungs = [row["rung"] for row in written["ladder"]]
    assert rungs[0] == "baseline fp32 eager" and len(rungs) == 7 and "+ torch.compile" not in rungs
    assert all(written["ladder"][-1]["levers"][k] for k in ("bf16", "fused_adam", "batched_d"))
    # G forward alone is 52.6 GFLOP at 256² (docs/lite_generator.md); a full step at 32² is well
    # above 1/64 of it, and the optimised step executes fewer FLOPs (one G forward fewer).
    assert written["gflop_per_image"] > 52.6 / 64
    assert written["gflop_per_image_executed_by_ours"] < written["gflop_per_image"]
    assert written["peak_tflops"] > 0 and "CPU" in written["device"]


def test_profile_step_groups_the_step_by_kind_of_work(tmp_path: Path, load_benchmark) -> None:
    profiler = load_benchmark("profile_step")
    out = tmp_path / "profile.json"
    argv = ["--device", "cpu", "--batch-size", "1", "--size", "32", "--steps", "1", "--warmup", "1"]
    report = profiler.main(argv + ["--out", str(out)])
    categories = json.loads(out.read_text())["categories_ms"]
    assert categories == report["categories_ms"]
    # The generator's inverted-residual blocks are depthwise; the rest of the convs are dense.
    for name in ("conv dense", "conv depthwise", "group norm", "activations", "optimizer"):
        assert categories[name] > 0, name
    assert max(categories, key=categories.get) == "conv dense"
    assert (
        profiler.categorize(
            "aten::convolution_backward", [[2, 8, 4, 4], [2, 8, 4, 4], [8, 1, 3, 3]]
        )
        == "conv depthwise"
    )
    assert profiler.categorize("aten::native_group_norm", None) == "group norm"
