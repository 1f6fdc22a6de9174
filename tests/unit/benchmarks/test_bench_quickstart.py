"""bench_quickstart's scoring: PSNR by hand, and a run folder scored end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from animegan.models import Generator, export_state_dict


def test_psnr_db_by_hand(load_benchmark) -> None:
    bench = load_benchmark("bench_quickstart")
    a = np.full((2, 4, 4, 3), 100, np.uint8)
    assert bench.psnr_db(a, a) == math.inf
    b = a + 10  # MSE 100 everywhere
    assert bench.psnr_db(a, b) == pytest.approx(10 * math.log10(255**2 / 100))
    half = a.copy()
    half[0] += 20  # MSE 400 on half the pixels: pooled 200, not the mean of per-image dB
    assert bench.psnr_db(a, half) == pytest.approx(10 * math.log10(255**2 / 200))


def test_measure_scores_the_init_and_final_checkpoints(
    load_benchmark, tmp_path: Path, unpaired_folder
) -> None:
    bench = load_benchmark("bench_quickstart")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    export_state_dict(Generator(), run / "checkpoints" / "epoch000.ckpt")
    torch.manual_seed(1)
    export_state_dict(Generator(), run / "checkpoints" / "last.ckpt")
    config = {
        "module": {"init_epochs": 1},
        "trainer": {"max_epochs": 2},
        "data": {"root": str(unpaired_folder(2)), "builtin": False, "image_size": 32,
                 "batch_size": 1, "num_val_images": 2, "cache_dir": str(tmp_path / "cache")},
    }  # fmt: skip
    (run / "config_resolved.yaml").write_text(yaml.safe_dump(config))
    result = bench.measure(run)
    assert (result["init_epochs"], result["image_size"], result["validation_photos"]) == (1, 32, 2)
    assert result["last_checkpoint_epoch"] is None  # plain state dicts: no epoch recorded
    psnr = result["psnr_db"]
    assert all(math.isfinite(value) and 0 < value < 60 for value in psnr.values())
    # Two different generators: the init-phase and final figures are of different outputs.
    assert psnr["init_phase_vs_photo"] != psnr["final_vs_photo"]
