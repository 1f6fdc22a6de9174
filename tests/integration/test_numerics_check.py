"""The numerics check: its criterion on synthetic curves, and a tiny end-to-end run of its runs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest


@pytest.fixture
def check(load_benchmark):
    return load_benchmark("numerics_check")


TOLERANCE = {"window": 10, "margin": 1.5, "atol": 0.0, "first_rtol": 0.02}
STEPS = 40


def _base(seed: int) -> list[float]:
    """A reference ``content`` curve near 2.0 (seed-dependent wiggle, never zero)."""
    return [2.0 + 0.01 * ((i + seed) % 3) for i in range(STEPS)]


def _drifted(curve: list[float], amount: float) -> list[float]:
    """``curve`` moved by ``amount`` (relative) from the second window on: batch 0 is equal."""
    return [v * (1 + amount * (i >= 10)) for i, v in enumerate(curve)]


def _runs(fp32_drifts: dict[str, list[float]], fast_drifts: list[float]) -> dict:
    """Seeds 0..n-1; per seed a reference, the fp32 variants and fast, each with a ``content``
    term drifted by the given relative amount and a ``g_adv`` term whose fast curve flips sign
    around zero (the same spread as fp32's, so it never decides the verdict here)."""
    runs = {}
    for seed, fast in enumerate(fast_drifts):
        reference = _base(seed)
        g_adv = [0.001 * (-1) ** i for i in range(STEPS)]
        seed_runs = {
            "reference": {"content": reference, "g_adv": g_adv, "skipped_updates": [0.0] * STEPS},
            "fast": {
                "content": _drifted(reference, fast),
                "g_adv": g_adv[:1] + [0.0] * (STEPS - 1),
                "skipped_updates": [0.0] * STEPS,
            },
        }
        for name, amounts in fp32_drifts.items():
            seed_runs[name] = {
                "content": _drifted(reference, amounts[seed]),
                "g_adv": g_adv[:1] + [0.0] * (STEPS - 1),
                "skipped_updates": [0.0] * STEPS,
            }
        runs[seed] = seed_runs
    return runs


FP32 = {"channels_last": [0.02, 0.10, 0.05], "compile": [0.08, 0.03, 0.12]}  # pooled max 0.12


def test_window_means_and_drift(check) -> None:
    assert check.window_means([1, 2, 3, 4, 5], 2) == [1.5, 3.5]
    # windows [1, 2] [3, 4] vs [1, 4] [3, 8]: |2.5 - 1.5| and |5.5 - 3.5| -> mean 1.5
    assert check.drift([1, 2, 3, 4], [1, 4, 3, 8], 2) == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("fast", "verdict", "outside_seeds"),
    [
        ([0.05, 0.15, 0.17], "passed", []),  # 0.17 < 1.5 x 0.12 of the pooled fp32 band
        ([0.05, 0.19, 0.01], "failed", ["1"]),  # seed 1: 0.19 > 0.18
        ([0.30, 0.30, 0.30], "failed", ["0", "1", "2"]),
    ],
)
def test_fast_drift_is_judged_against_the_pooled_fp32_band(check, fast, verdict, outside_seeds):
    result = check.judge(_runs(FP32, fast), list(FP32), **TOLERANCE)
    assert result["verdict"] == verdict
    failed = sorted(s for s, r in result["seeds"].items() if r["verdict"] == "failed")
    assert failed == outside_seeds
    # The band is pooled over variants and seeds: 0.12 x the level of the second window on.
    band = result["band"]["content"]
    assert band == pytest.approx(check.drift(_base(2), _drifted(_base(2), 0.12), 10))
    assert all(c["passed"] for c in result["calibration"].values())
    for seed, outcome in result["seeds"].items():
        assert outcome["terms"]["g_adv"]["passed"], seed
        assert (outcome["terms_outside"] == ["content"]) is (seed in outside_seeds)


def test_a_lonely_fp32_outlier_makes_the_check_inconclusive(check) -> None:
    """An fp32 run far outside the others' band: the criterion would flag fp32 itself."""
    fp32 = {"channels_last": [0.02, 0.03, 0.02], "compile": [0.03, 0.02, 0.20]}
    result = check.judge(_runs(fp32, [0.01, 0.01, 0.01]), list(fp32), **TOLERANCE)
    assert result["verdict"] == "inconclusive"
    assert not result["calibration"]["compile@seed2"]["passed"]
    assert "content" in result["calibration"]["compile@seed2"]["terms_outside"]
    assert all(r["verdict"] == "passed" for r in result["seeds"].values())


def test_nan_skipped_update_and_first_batch_fail_the_seed(check) -> None:
    runs = _runs(FP32, [0.0, 0.0, 0.0])
    runs[0]["fast"]["content"][7] = math.nan
    runs[1]["fast"]["skipped_updates"] = [1.0] * STEPS
    runs[2]["fast"]["content"][0] *= 1.05  # 5 % off on the first batch: precision, not drift
    result = check.judge(runs, list(FP32), **TOLERANCE)
    assert result["verdict"] == "failed"
    assert {s: r["verdict"] for s, r in result["seeds"].items()} == dict.fromkeys("012", "failed")
    assert not result["seeds"]["0"]["all_finite_no_skips"]
    assert not result["seeds"]["1"]["all_finite_no_skips"]
    assert result["seeds"]["1"]["skipped_updates"]["fast"] == 1.0
    assert result["seeds"]["2"]["all_finite_no_skips"]
    assert result["seeds"]["2"]["terms_outside"] == ["content"]


def test_too_short_curves_fail_and_no_variant_is_an_error(check) -> None:
    runs = _runs(FP32, [0.0, 0.0, 0.0])
    short = check.judge(runs, list(FP32), **{**TOLERANCE, "window": STEPS + 1})
    assert short["verdict"] == "failed" and "window" in short["reason"]
    with pytest.raises(ValueError, match="fp32 variant"):
        check.judge(runs, [], **TOLERANCE)


def test_bad_arguments_are_one_line_errors(check, tmp_path: Path, capsys) -> None:
    for argv, message in [
        (["--data", str(tmp_path / "absent")], "is not a folder"),
        (["--data", str(tmp_path), "--margin", "0.5"], "--margin 0.5 < 1"),
        (["--data", str(tmp_path), "--seeds", "1", "1"], "repeats a seed"),
        (["--data", str(tmp_path), "--steps", "5", "--window", "10"], "at least one --window"),
    ]:
        with pytest.raises(SystemExit) as stop:
            check.main(argv)
        assert stop.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_run_of_every_path_writes_verdict_and_curves(
    check, tmp_path: Path, unpaired_folder
) -> None:
    data = unpaired_folder(8, 40, 40)
    out = tmp_path / "numerics.json"
    argv = ["--data", str(data), "--steps", "3", "--window", "1", "--size", "32", "--seeds", "5"]
    argv += ["--batch-size", "2", "--workers", "0", "--no-compile"]
    argv += ["--fp32-variants", "channels_last", "cl_fused"]
    argv += ["--workdir", str(tmp_path / "runs"), "--out", str(out)]
    report = check.main(argv)
    written = json.loads(out.read_text())
    assert written["verdict"] == report["verdict"] in {"passed", "failed", "inconclusive"}
    assert written["criterion"] == check.CRITERION
    expected = {"d_anime", "d_fake", "d_total", "g_adv", "content", "style", "color", "tv"}
    assert expected <= set(written["terms"])
    seed = written["seeds"]["5"]
    assert seed["all_finite_no_skips"]
    assert set(seed["terms"]["content"]["window_means"]) == {
        "reference",
        "channels_last",
        "cl_fused",
        "fast",
    }
    assert len(seed["terms"]["content"]["window_means"]["fast"]) == 3
    assert set(written["calibration"]) == {"channels_last@seed5", "cl_fused@seed5"}
    commands = written["run_commands"]
    assert "perf=eager" in commands["reference@seed5"]
    assert "trainer.precision=32-true" in commands["channels_last@seed5"]
    assert "module.channels_last=true" in commands["channels_last@seed5"]
    assert "perf=fast" in commands["fast@seed5"] and "32-true" not in commands["fast@seed5"]
    with (tmp_path / "numerics_curves.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:2] == ["seed", "batch"] and len(rows) == 4 and "content_cl_fused" in rows[0]
    # --reuse judges the finished runs again without training: no metrics.csv is written again
    # and the wall times are the ones the first call stored beside each run.
    runs = tmp_path / "runs" / "seed5"
    names = ("reference", "channels_last", "cl_fused", "fast")
    stamps = {name: (runs / name / "metrics.csv").stat().st_mtime_ns for name in names}
    again = check.main([*argv, "--reuse"])
    assert {name: (runs / name / "metrics.csv").stat().st_mtime_ns for name in names} == stamps
    stored = {f"{name}@seed5": float((runs / name / "wall_s.txt").read_text()) for name in names}
    assert again["wall_s"] == stored
    assert again["seeds"] == report["seeds"]
