"""A 2-recipe x 1-seed augmentation sweep through the real CLI (Hydra multirun, CPU, tiny budget),
then the aggregation into the comparison table and plot."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import yaml

from animegan.cli.ablation import main as ablation_main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_two_recipe_sweep_produces_table_and_plot(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    sweep = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "animegan.cli.train",
        "-m",
        "experiment=augmentation_ablation",
        "augmentation=none,full",  # replaces the study's arms and seeds for this test
        "seed=0",
        # Tiny budget: one content-only epoch of one batch at 32x32, validation and the
        # (random-feature) evaluation metrics on 2 photos.
        "module.init_epochs=1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "trainer.enable_model_summary=false",
        "model.vgg.weights=random",
        f"paths.cache_dir={cache}",
        f"data.root={cache / 'quickstart_dataset'}",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_val_images=2",
        "callbacks.sample_grid.num_images=2",
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for number, recipe in enumerate(("none", "full")):
        job = sweep / f"{number}_{recipe}_seed0"
        resolved = yaml.safe_load((job / "config_resolved.yaml").read_text())
        assert resolved["augmentation"]["name"] == recipe  # the recipe in force, in the run dir
        assert resolved["data_description"]["augmentation"]["photo"]["transforms"]
        hparams = yaml.safe_load((job / "hparams.yaml").read_text())
        assert hparams["augmentation"]["name"] == recipe  # ... and in the logger's config
        assert (job / "samples" / "last.png").is_file()

    out = tmp_path / "report"
    assert ablation_main(["aggregate", str(sweep), "--out", str(out)]) == 0
    with (out / "ablation_summary.csv").open() as handle:
        rows = {row["arm"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"none", "full"}
    for row in rows.values():
        assert row["n_seeds"] == "1" and float(row["val/content/mean"]) > 0
        assert float(row["metrics/fid/mean"]) >= 0  # the evaluation callback's metric
    table = (out / "ablation_summary.md").read_text()
    assert "metrics/fid (decisive)" in table and "| `full` | 1 |" in table
    assert (out / "ablation_plot.png").stat().st_size > 5_000
