"""A 2-arm x 1-seed architecture sweep (attention none/se, cosine schedule) through the real CLI
(Hydra multirun, CPU, tiny budget), then the aggregation into the comparison table and plot."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from animegan.cli.ablation import main as ablation_main


@pytest.mark.slow
def test_two_arm_architecture_sweep_produces_table_and_plot(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    sweep = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "animegan.cli.train",
        "-m",
        "experiment=architecture_ablation",
        "model.generator.attention=none,se",  # replaces the study's arms and seeds for this test
        "module.schedule=cosine",
        "seed=0",
        # Tiny budget: one content-only epoch and one GAN epoch (cosine needs a GAN phase) of one
        # batch at 32x32, validation and the random-feature evaluation metrics on 2 photos.
        "module.init_epochs=1",
        "trainer.max_epochs=2",
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

    for number, attention in enumerate(("none", "se")):
        job = sweep / f"{number}_{attention}_cosine_seed0"
        resolved = yaml.safe_load((job / "config_resolved.yaml").read_text())
        assert resolved["model"]["generator"]["attention"] == attention
        assert resolved["module"]["schedule"] == "cosine"
        assert (job / "samples" / "last.png").is_file()
        checkpoint = torch.load(job / "checkpoints" / "last.ckpt", map_location="cpu")
        has_se = any(".attention.se." in key for key in checkpoint["state_dict"])
        assert has_se == (attention == "se")  # the variant really was trained
        assert len(checkpoint["lr_schedulers"]) == 3  # cosine: one scheduler per optimizer

    out = tmp_path / "report"
    assert (
        ablation_main(["aggregate", str(sweep), "--out", str(out), "--baseline", "none/cosine"])
        == 0
    )
    with (out / "ablation_summary.csv").open() as handle:
        rows = {row["arm"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"none/cosine", "se/cosine"}
    for row in rows.values():
        assert row["n_seeds"] == "1" and float(row["val/content/mean"]) > 0
        assert float(row["metrics/fid/mean"]) >= 0  # the evaluation callback's metric
    table = (out / "ablation_summary.md").read_text()
    assert table.startswith("| attention/schedule | n seeds | metrics/fid (decisive) |")
    assert "| `se/cosine` | 1 |" in table and "no verdict: n < 2 |" in table
    assert (out / "ablation_plot.png").stat().st_size > 5_000
