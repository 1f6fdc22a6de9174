"""Evaluation end to end on CPU: training callback, `make eval`, W&B offline files, DDP, multirun."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from ddp_eval_worker import ddp_worker, tiny_evaluator
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from animegan.cli.eval import evaluate
from animegan.cli.train import train
from animegan.evaluation.wandb_logging import finish_wandb
from animegan.models import Generator, export_state_dict, load_generator

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = REPO_ROOT / "conf"


def metrics_override(option: str) -> str:
    """``metrics=<option>``, or ``+metrics=<option>`` while train.yaml has no metrics default."""
    has_group = "- metrics:" in (CONF_DIR / "train.yaml").read_text()
    return f"{'' if has_group else '+'}metrics={option}"


@pytest.fixture
def offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb_home" / name.lower()))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # nothing to download


def compose_eval(overrides: list[str]) -> Any:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="eval", overrides=overrides)
    GlobalHydra.instance().clear()
    return cfg


def read_wandb_records(path: Path) -> list[Any]:
    """Records of an offline ``run-*.wandb`` file (leveldb-style log of protobuf records)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, position, pending, records = 32768, 7, b"", []
    while position + 7 <= len(data):
        if block - position % block < 7:  # too little room for a header: block padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if kind == 0 and length == 0:
            position += block - position % block
            continue
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def wandb_history(records: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for record in records:
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    item.key or "/".join(item.nested_key): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
    return rows


def last_logged(metrics_csv: Path, column: str) -> float:
    with metrics_csv.open() as handle:
        values = [row[column] for row in csv.DictReader(handle) if row.get(column)]
    return float(values[-1])


def test_callback_logs_to_wandb_and_make_eval_reports_the_same_values(
    compose_train, tiny_overrides, tmp_path: Path, offline_wandb: None
) -> None:
    run_dir = tmp_path / "run"
    cfg = compose_train(
        [
            *tiny_overrides,
            metrics_override("tiny"),
            "metrics.image_size=32",
            "logger=wandb",
            # A CSV logger next to W&B: the same logged values, readable without wandb.
            "+logger.csv._target_=lightning.pytorch.loggers.CSVLogger",
            f"+logger.csv.save_dir={run_dir}",
            "+logger.csv.name=''",
            "+logger.csv.version=''",
        ],
        run_dir,
    )
    last = train(cfg)
    finish_wandb()
    assert last is not None

    # The callback: per-epoch metrics.json and grid, metrics/* logged to every logger.
    callback_json = json.loads((run_dir / "eval" / "epoch_001" / "metrics.json").read_text())
    assert (run_dir / "eval" / "epoch_000" / "grid.png").is_file()
    logged = callback_json["metrics"]
    assert set(logged) == {"fid", "kid_mean", "kid_std", "lpips_content", "lpips_diversity"}
    for name, value in logged.items():
        assert last_logged(run_dir / "metrics.csv", f"metrics/{name}") == pytest.approx(value)
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert not any("lpips" in key or "fid" in key for key in checkpoint["state_dict"])

    # W&B offline: one run folder with media (grids, per-image tables) and every logged value.
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    media = offline_run / "files" / "media"
    assert len(list((media / "images" / "eval").glob("samples_*.png"))) == 2  # one per epoch
    tables = sorted((media / "table" / "eval").glob("per_image_*.table.json"))
    assert len(tables) == 2
    table = json.loads(tables[-1].read_text())
    assert table["columns"] == ["index", "photo_file", "photo", "stylized", "lpips_content"]
    assert len(table["data"]) == 2
    records = read_wandb_records(next(offline_run.glob("run-*.wandb")))
    kinds = [record.WhichOneof("record_type") for record in records]
    assert "exit" in kinds  # finished cleanly
    (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run_record.run_group == "quickstart" and run_record.job_type == "train"
    config_keys = {
        item.key
        for r in records
        if r.WhichOneof("record_type") == "config"
        for item in r.config.update
    }
    assert {"model", "loss", "data", "trainer", "metrics", "module"} <= config_keys
    history = wandb_history(records)
    logged_keys = set().union(*history)
    assert {"loss/g_total_step", "loss/d_total_step", "loss/init_content_step"} <= logged_keys
    wandb_fid = [row["metrics/fid"] for row in history if "metrics/fid" in row]
    assert len(wandb_fid) == 2 and wandb_fid[-1] == pytest.approx(logged["fid"])

    # `make eval` on the last checkpoint: same inputs (from the checkpoint's config), same values.
    eval_dir = tmp_path / "eval"
    eval_cfg = compose_eval(
        [
            f"ckpt='{last}'",
            "metrics=tiny",
            "metrics.image_size=32",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"output_dir={eval_dir}",
        ]
    )
    files = evaluate(eval_cfg)
    report = json.loads((eval_dir / "metrics.json").read_text())
    assert report["metrics"] == logged  # bit for bit: same Evaluator, same inputs, same device
    assert report["info"]["reference_cache_hit"] is True  # statistics from training reused
    for name in ("report.md", "report.html", "grid.png", "per_image.csv", "training_curves.png"):
        assert (eval_dir / name).is_file(), name
    assert "| fid |" in (eval_dir / "report.md").read_text()
    assert set(files) >= {"run/last:report_md", "run/last:grid"}


def write_images(folder: Path, count: int, seed: int) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        pixels = rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index}.png")
    return folder


def test_eval_and_compare_published_generator_files(tmp_path: Path) -> None:
    """animegan2-pytorch .pt files have no training config: folders are required."""
    torch.manual_seed(0)
    first = export_state_dict(Generator(), tmp_path / "first.pt")
    second = export_state_dict(Generator(), tmp_path / "second.pt")
    photos = write_images(tmp_path / "photos", 3, seed=1)
    anime = write_images(tmp_path / "anime", 4, seed=2)
    common = ["metrics=tiny", "metrics.image_size=32", f"paths.cache_dir={tmp_path / 'cache'}"]

    with pytest.raises(FileNotFoundError, match="photo_dir= and anime_dir= are required"):
        evaluate(compose_eval([f"ckpt='{first}'", f"output_dir={tmp_path / 'x'}", *common]))

    out = tmp_path / "compare"
    evaluate(
        compose_eval(
            [
                f"ckpt=['{first}','{second}']",
                f"photo_dir={photos}",
                f"anime_dir={anime}",
                f"output_dir={out}",
                *common,
            ]
        )
    )
    table = (out / "comparison.md").read_text()
    assert "| first |" in table and "| second |" in table
    assert (out / "comparison_grid.png").is_file()
    assert json.loads((out / "first" / "metrics.json").read_text())["photos"] == str(photos)


# ------------------------------------------------------------------------------------ DDP
def test_two_cpu_processes_give_the_single_process_values(tmp_path: Path) -> None:
    """5 photos over 2 ranks (uneven shards), reference features computed sharded and cached."""
    torch.manual_seed(0)
    generator_file = export_state_dict(Generator(), tmp_path / "generator.pt")
    photos = sorted(write_images(tmp_path / "photos", 5, seed=3).iterdir())
    references = sorted(write_images(tmp_path / "anime", 7, seed=4).iterdir())
    expected = tiny_evaluator(tmp_path / "cache_single").evaluate(
        load_generator(generator_file), photos, references
    )
    args = {
        "cache_dir": tmp_path / "cache_ddp",
        "generator": generator_file,
        "photos": photos,
        "references": references,
        "out": tmp_path,
    }
    mp.spawn(ddp_worker, args=(2, str(tmp_path / "init"), args), nprocs=2, join=True)
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)
        assert got["world_size"] == 2
        assert got["metrics"].keys() == expected.metrics.keys()
        for name, value in expected.metrics.items():
            assert got["metrics"][name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
        expected_lpips = [row["lpips_content"] for row in expected.per_image]
        assert got["lpips"] == pytest.approx(expected_lpips, rel=1e-4)
        assert (got["fakes"].int() - expected.fakes.int()).abs().max() <= 1
    assert len(list((tmp_path / "cache_ddp").glob("*.pt"))) == 1  # written once, by rank 0


# ------------------------------------------------------------------------------- multirun
@pytest.mark.slow
def test_multirun_makes_one_finished_wandb_run_per_job(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    command = [
        sys.executable,
        "-m",
        "animegan.cli.train",
        "-m",
        "seed=1,2",
        "logger=wandb",
        metrics_override("none"),
        "experiment=quickstart",
        "model.vgg.weights=random",
        f"paths.cache_dir={cache}",
        f"data.root={cache / 'quickstart_dataset'}",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_val_images=2",
        "callbacks=none",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb_config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb_cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb_data"),
    }
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = sorted((tmp_path / "multirun").glob("*/wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == 2, runs
    for job, run_file in enumerate(runs):
        assert run_file.parents[2].name == str(job)
        records = read_wandb_records(run_file)
        assert "exit" in [record.WhichOneof("record_type") for record in records]
        (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        assert run_record.display_name == f"quickstart-{job}"
        assert run_record.run_group == "quickstart"
        assert f"seed={job + 1}" in run_record.tags
