"""The fast-vs-fp32 numerics check: curve comparison rules, and a tiny end-to-end run of both paths."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest


@pytest.fixture
def check(load_benchmark):
    return load_benchmark("numerics_check")


def _curves(offset: float = 0.0, nan_at: int | None = None, skipped: float = 0.0):
    content = [2.0 + 0.01 * (i % 3) for i in range(40)]
    g_adv = [0.001 * (-1) ** i for i in range(40)]  # near zero: judged by atol
    fast_content = [v * (1 + offset) for v in content]
    if nan_at is not None:
        fast_content[nan_at] = math.nan
    reference = {"content": content, "g_adv": g_adv, "skipped_updates": [0.0] * 40}
    fast = {"content": fast_content, "g_adv": g_adv[::-1], "skipped_updates": [skipped] * 40}
    return reference, fast


def test_window_means(check) -> None:
    assert check.window_means([1, 2, 3, 4, 5], 2) == [1.5, 3.5]


@pytest.mark.parametrize(
    ("offset", "nan_at", "skipped", "passed"),
    [
        (0.01, None, 0.0, True),
        (0.10, None, 0.0, False),
        (0.0, 7, 0.0, False),
        (0.0, None, 1.0, False),
    ],
)
def test_compare_curves_rules(check, offset, nan_at, skipped, passed) -> None:
    reference, fast = _curves(offset, nan_at, skipped)
    verdict = check.compare_curves(reference, fast, window=10, rtol=0.05, atol=0.02)
    assert verdict["passed"] is passed
    assert verdict["terms"]["g_adv"]["passed"]  # sign flips around 0 are within atol
    assert verdict["terms"]["content"]["first_step"]["reference"] == 2.0


def test_tiny_run_of_both_paths_writes_verdict_and_curves(
    check, tmp_path: Path, unpaired_folder
) -> None:
    data = unpaired_folder(8, 40, 40)
    out = tmp_path / "numerics.json"
    argv = ["--data", str(data), "--steps", "4", "--window", "2", "--size", "32"]
    argv += ["--batch-size", "2", "--workers", "0", "--no-compile"]
    report = check.main(argv + ["--workdir", str(tmp_path / "runs"), "--out", str(out)])
    written = json.loads(out.read_text())
    assert written["passed"] == report["passed"]
    expected = {
        "d_real",
        "d_fake",
        "d_total",
        "g_adv",
        "content",
        "style",
        "color",
        "tv",
        "g_total",
    }
    assert expected <= set(written["terms"])
    assert all(term["steps"] == 4 and term["all_finite"] for term in written["terms"].values())
    assert "perf=fast" in written["commands"]["fast"]
    assert "trainer.precision=32-true" in written["commands"]["reference"]
    with (tmp_path / "numerics_curves.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "batch" and len(rows) == 5 and "content_fast" in rows[0]
