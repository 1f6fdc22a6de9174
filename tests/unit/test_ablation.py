"""Sweep aggregation: last metric values, mean ± std over seeds, tables, plot, CLI."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from animegan.experiments.ablation import (
    aggregate,
    find_jobs,
    last_metric_values,
    main,
    study_settings,
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
