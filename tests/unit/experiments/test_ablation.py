"""Sweep aggregation: last metric values, mean ± std over seeds, tables, plot, CLI."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from animegan.cli.ablation import main
from animegan.experiments.ablation import (
    ArmSummary,
    aggregate,
    find_jobs,
    last_metric_values,
    study_settings,
    verdict,
)

STUDY = {
    "group_by": "augmentation.name",
    "baseline": "none",
    "metrics": ["val/content", "val/color"],
    "decisive_metric": "val/content",
    "mode": "min",
}


def write_job(
    folder: Path,
    recipe: str,
    seed: int,
    content: float | None,
    color: float | None = 0.5,
    study: dict | None = None,
    grid: bool = True,
) -> Path:
    """A job folder as a training run leaves it: resolved config, sparse metrics.csv, a grid."""
    folder.mkdir(parents=True)
    config = {"seed": seed, "augmentation": {"name": recipe}, "study": study or STUDY}
    (folder / "config_resolved.yaml").write_text(yaml.safe_dump(config))
    if content is not None:
        rows = [
            ["epoch", "step", "loss/content_step", "val/content", "val/color"],
            ["0", "0", "9.0", "", ""],
            ["0", "0", "", "100.0", "100.0"],  # an earlier validation: not the last value
            ["1", "1", "8.0", "", ""],
            ["1", "1", "", str(content), "" if color is None else str(color)],
            ["1", "1", "7.0", "", ""],
        ]
        with (folder / "metrics.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    if grid:
        (folder / "samples").mkdir()
        Image.fromarray(np.full((8, 16, 3), seed * 40, np.uint8)).save(folder / "samples/last.png")
    return folder


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for seed, value in enumerate([1.0, 2.0, 4.0]):
        write_job(root / f"full_seed{seed}", "full", seed, value, color=0.25 * (seed + 1))
    for seed, value in enumerate([3.0, 5.0]):
        write_job(root / f"none_seed{seed}", "none", seed, value)
    write_job(root / "basic_seed0", "basic", 0, None)  # failed job: no metrics
    return root


def test_last_metric_values_skips_empty_cells_and_unwanted_columns(tmp_path: Path) -> None:
    job = write_job(tmp_path / "job", "none", 0, 0.125, color=None)
    values = last_metric_values(job / "metrics.csv")
    # val/color's last non-empty cell is the earlier 100.0; losses are not metrics by default.
    assert values == {"val/content": 0.125, "val/color": 100.0}
    assert last_metric_values(job / "metrics.csv", ["loss/content_step"]) == {
        "loss/content_step": 7.0
    }


def test_aggregate_mean_std_over_seeds(sweep: Path, tmp_path: Path) -> None:
    result = aggregate(sweep, tmp_path / "out")
    assert [arm.arm for arm in result.arms] == ["none", "full"]  # baseline first
    none, full = result.arms
    assert (full.num_seeds, none.num_seeds) == (3, 2)
    # full: values 1, 2, 4 -> mean 7/3, sample std sqrt(((4/3)^2 + (1/3)^2 + (5/3)^2) / 2)
    assert full.mean("val/content") == pytest.approx(7 / 3)
    assert full.std("val/content") == pytest.approx(math.sqrt(7 / 3))
    assert none.mean("val/content") == pytest.approx(4.0)
    assert none.std("val/content") == pytest.approx(math.sqrt(2.0))
    assert full.mean("val/color") == pytest.approx(0.5)
    assert [path.name for path in result.incomplete] == ["basic_seed0"]
    assert all(job.samples is not None for job in result.jobs)

    with result.files["summary_csv"].open() as handle:
        rows = {row["arm"]: row for row in csv.DictReader(handle)}
    assert float(rows["full"]["val/content/mean"]) == pytest.approx(7 / 3)
    assert rows["full"]["seeds"] == "0 1 2" and rows["none"]["n_seeds"] == "2"
    with result.files["runs_csv"].open() as handle:
        runs = list(csv.DictReader(handle))
    assert len(runs) == 5 and runs[0]["job_dir"] == "full_seed0"  # relative to the sweep

    table = result.files["markdown"].read_text()
    assert "| `full` | 3 | **2.333 ± 1.5** | 0.5 ± 0.25 | -1.67 |" in table
    assert "| `none` | 2 | 4 ± 1.4 | 0.5 ± 0 | — |" in table
    png = Image.open(result.files["plot"])
    assert png.size[0] > 300 and png.size[1] > 200
    grids = Image.open(result.files["samples"])  # 2 arms x 3 seeds
    assert grids.size[1] > grids.size[0] * 0.6


def test_single_seed_has_no_std_and_max_mode_picks_the_largest(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    write_job(root / "a", "none", 0, 1.0)
    write_job(root / "b", "basic", 0, 2.0)
    result = aggregate(root, mode="max")
    assert math.isnan(result.arms[0].std("val/content"))
    table = result.files["markdown"].read_text()
    assert "| `basic` | 1 | **2** |" in table and "higher is better" in table
    assert result.files["plot"].parent == root  # default: written into the sweep folder


def test_settings_come_from_the_job_config_and_flags_override(sweep: Path) -> None:
    job = find_jobs(sweep)[0]
    assert study_settings(job).metrics == ("val/content", "val/color")
    overridden = study_settings(job, metrics=("val/color",), baseline=None, mode="max")
    assert overridden.metrics == ("val/color",) and overridden.baseline == "none"
    assert overridden.mode == "max"
    with pytest.raises(ValueError, match="mode"):
        study_settings(job, mode="lowest")


def test_without_a_study_section_every_val_metric_is_taken(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    write_job(root / "a", "none", 0, 1.0, study={"group_by": "augmentation.name"})
    result = aggregate(root)
    assert result.settings.decisive_metric == "val/color"  # sorted metric names, first one
    assert set(result.arms[0].values) == {"val/color", "val/content"}


def test_cli(sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["aggregate", str(sweep), "--out", str(out), "--metrics", "val/content"]) == 0
    printed = capsys.readouterr().out
    assert "val/content (decisive)" in printed and "val/color" not in printed
    assert (out / "ablation_plot.png").is_file() and (out / "ablation_summary.md").is_file()
    assert main(["aggregate", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_documented_module_command_still_runs(sweep: Path, tmp_path: Path) -> None:
    """``python -m animegan.experiments.ablation aggregate`` (Makefile, READMEs) reaches the CLI."""
    out = tmp_path / "report"
    command = [sys.executable, "-m", "animegan.experiments.ablation", "aggregate", str(sweep)]
    done = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "| `full` | 3 | **2.333 ± 1.5** |" in done.stdout
    assert (out / "ablation_summary.md").read_text() in done.stdout
    missing = subprocess.run(
        command[:-1] + [str(tmp_path / "absent")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and missing.stderr.strip().startswith("error: sweep folder")
    assert "Traceback" not in missing.stderr


# ------------------------------------------------ several arm keys (architecture study), verdicts
ARCH_STUDY = {
    "group_by": ["model.generator.attention", "module.schedule"],
    "baseline": "none/constant",
    "metrics": ["val/content"],
    "decisive_metric": "val/content",
    "mode": "min",
}


def write_arch_job(folder: Path, attention: str, schedule: str, seed: int, content: float) -> None:
    """A job of the architecture study: the arm is named by two config keys."""
    folder.mkdir(parents=True)
    config = {
        "seed": seed,
        "model": {"generator": {"attention": attention}},
        "module": {"schedule": schedule},
        "study": ARCH_STUDY,
    }
    (folder / "config_resolved.yaml").write_text(yaml.safe_dump(config))
    with (folder / "metrics.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["epoch", "val/content"], [0, content]])


def test_several_group_by_keys_name_the_arm_and_verdicts_follow_the_spread(
    tmp_path: Path,
) -> None:
    root = tmp_path / "sweep"
    values = {
        ("none", "constant"): [10.0, 11.0, 12.0],  # baseline: mean 11, std 1
        ("se", "constant"): [7.0, 8.0, 9.0],  # mean 8, std 1: |Δ| 3 > 1 + 1 -> better
        ("se", "cosine"): [9.0, 10.0, 11.0],  # mean 10: |Δ| 1 <= 2 -> within spread
        ("spatial", "cosine"): [14.0, 15.0, 16.0],  # mean 15: worse
        ("both", "cosine"): [1.0],  # one seed: no spread, no verdict
    }
    for (attention, schedule), seeds in values.items():
        for seed, value in enumerate(seeds):
            write_arch_job(
                root / f"{attention}_{schedule}_{seed}", attention, schedule, seed, value
            )
    result = aggregate(root, tmp_path / "out")
    assert result.settings.group_by == ("model.generator.attention", "module.schedule")
    names = [arm.arm for arm in result.arms]
    assert names == ["none/constant", "both/cosine", "se/constant", "se/cosine", "spatial/cosine"]
    table = result.files["markdown"].read_text()
    assert table.startswith("| attention/schedule | n seeds | val/content (decisive) |")
    assert "Δ val/content vs none/constant | verdict |" in table
    # Welch t for se/constant: -3 / sqrt(1/3 + 1/3) = -3.67
    assert "| `se/constant` | 3 | 8 ± 1 | -3 | better (t = -3.7) |" in table
    assert "| `se/cosine` | 3 | 10 ± 1 | -1 | no verdict: within spread |" in table
    assert "| `spatial/cosine` | 3 | 15 ± 1 | +4 | worse (t = +4.9) |" in table
    # The lowest mean is in bold, but one seed allows no verdict.
    assert "| `both/cosine` | 1 | **1** | -10 | no verdict: n < 2 |" in table
    assert "| `none/constant` | 3 | 11 ± 1 | — | — |" in table


def test_verdict_rule_and_max_mode() -> None:
    base = ArmSummary("none", (0, 1), {"m": (1.0, 1.0)})
    same_spread = ArmSummary("a", (0, 1), {"m": (2.0, 2.0)})  # both std 0, |Δ| 1 > 0
    assert verdict(same_spread, base, "m", "min") == "worse"
    assert verdict(same_spread, base, "m", "max") == "better"
    equal = ArmSummary("b", (0, 1), {"m": (1.0, 1.0)})
    assert verdict(equal, base, "m", "min") == "no verdict: within spread"
    assert verdict(ArmSummary("c", (0,), {"m": (5.0,)}), base, "m", "min") == "no verdict: n < 2"
    assert verdict(same_spread, base, "missing", "min") == "no verdict: n < 2"


def test_cli_group_by_takes_comma_separated_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sweep"
    write_arch_job(root / "a", "se", "cosine", 0, 1.0)
    write_arch_job(root / "b", "se", "constant", 0, 2.0)
    args = ["aggregate", str(root), "--group-by", "module.schedule,model.generator.attention"]
    assert main([*args, "--baseline", "constant/se"]) == 0
    printed = capsys.readouterr().out
    assert "| schedule/attention |" in printed and "| `cosine/se` | 1 | **1** | -1 |" in printed


def test_a_list_of_arm_keys_must_hold_names(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    write_arch_job(root / "a", "se", "cosine", 0, 1.0)
    config = yaml.safe_load((root / "a" / "config_resolved.yaml").read_text())
    config["study"]["group_by"] = ["module.schedule", {"_target_": "os.system"}]
    (root / "a" / "config_resolved.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="study.group_by must be a config key"):
        aggregate(root)
