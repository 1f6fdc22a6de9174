"""The fast-vs-fp32 numerics check: comparison rules, and a tiny end-to-end run of its three paths."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest


@pytest.fixture
def check(load_benchmark):
    return load_benchmark("numerics_check")


TOLERANCE = {"window": 10, "factor": 2.0, "rtol": 0.05, "atol": 0.02, "first_rtol": 0.02}


def _curves(drift: float, noise: float = 0.2, nan_at: int | None = None, skipped: float = 0.0):
    """Reference content ~2.0; the control drifts by ``noise``, the fast path by ``drift``
    (relative, from the second window on: the first batch is equal)."""
    content = [2.0 + 0.01 * (i % 3) for i in range(40)]

    def drifted(amount: float) -> list[float]:
        return [v * (1 + amount * (i >= 10)) for i, v in enumerate(content)]

    g_adv = [0.001 * (-1) ** i for i in range(40)]  # near zero: judged by atol
    fast_content = drifted(drift)
    if nan_at is not None:
        fast_content[nan_at] = math.nan
    reference = {"content": content, "g_adv": g_adv, "skipped_updates": [0.0] * 40}
    control = {"content": drifted(noise), "g_adv": g_adv, "skipped_updates": [0.0] * 40}
    fast_g_adv = g_adv[:1] + [-v for v in g_adv[1:]]  # sign flips after the first batch
    fast = {"content": fast_content, "g_adv": fast_g_adv, "skipped_updates": [skipped] * 40}
    return reference, fast, control


def test_window_means(check) -> None:
    assert check.window_means([1, 2, 3, 4, 5], 2) == [1.5, 3.5]


@pytest.mark.parametrize(
    ("drift", "noise", "nan_at", "skipped", "passed"),
    [
        (0.30, 0.20, None, 0.0, True),  # drifts, but less than 2 x fp32's own rounding drift
        (0.50, 0.20, None, 0.0, False),  # more than 2 x the control
        (0.04, 0.00, None, 0.0, True),  # control exact: the 5 % band still holds
        (0.10, 0.00, None, 0.0, False),
        (0.00, 0.20, 7, 0.0, False),  # a NaN
        (0.00, 0.20, None, 1.0, False),  # a skipped update
    ],
)
def test_compare_curves_rules(check, drift, noise, nan_at, skipped, passed) -> None:
    reference, fast, control = _curves(drift, noise, nan_at, skipped)
    verdict = check.compare_curves(reference, fast, control, **TOLERANCE)
    assert verdict["passed"] is passed
    assert verdict["terms"]["g_adv"]["passed"]  # sign flips around 0 are within atol
    if nan_at is None:
        assert verdict["terms"]["content"]["first_step"]["reference"] == 2.0


def test_first_step_must_agree_closely(check) -> None:
    reference, fast, control = _curves(0.0)
    fast["content"][0] *= 1.05  # 5 % off on the very first batch: precision, not drift
    verdict = check.compare_curves(reference, fast, control, **TOLERANCE)
    assert not verdict["passed"] and not verdict["terms"]["content"]["passed"]


def test_tiny_run_of_the_three_paths_writes_verdict_and_curves(
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
        "d_anime",
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
    assert "perf=fast" in written["commands"]["control"]
    assert "trainer.precision=32-true" in written["commands"]["control"]
    with (tmp_path / "numerics_curves.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "batch" and len(rows) == 5 and "content_control" in rows[0]
    # --reuse judges the finished runs again without training.
    again = check.main(argv + ["--workdir", str(tmp_path / "runs"), "--out", str(out), "--reuse"])
    assert again["wall_s"] == {k: pytest.approx(v, abs=0.06) for k, v in report["wall_s"].items()}
    assert again["terms"] == report["terms"]
