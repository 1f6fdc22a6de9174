"""Resume loses nothing and trusts nothing: metrics.csv keeps every epoch, last.ckpt stays the
latest (also in a copied run folder), a checkpoint's stored config and paths are only data."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import torch

from animegan.cli.train import train
from animegan.utils.stored_config import StoredConfigError


def metric_epochs(metrics_csv: Path, column: str) -> set[int]:
    """Epochs that have a value in ``column`` of a Lightning metrics.csv."""
    with metrics_csv.open(newline="") as handle:
        return {int(row["epoch"]) for row in csv.DictReader(handle) if row.get(column)}


@pytest.fixture
def one_epoch_run(compose_train, tiny_overrides, tmp_path: Path) -> tuple[Path, list[str]]:
    """A finished 1-epoch (init phase) run folder and the overrides that made it."""
    overrides = [*tiny_overrides, "trainer.max_epochs=1"]
    run_dir = tmp_path / "run"
    assert train(compose_train(overrides, run_dir)) == run_dir / "checkpoints" / "last.ckpt"
    assert metric_epochs(run_dir / "metrics.csv", "loss/init_content_step") == {0}
    return run_dir, overrides


def resume(compose_train, overrides: list[str], run_dir: Path, ckpt: Path) -> Path | None:
    return train(compose_train([*overrides, "trainer.max_epochs=2", f"ckpt_path={ckpt}"], run_dir))


def test_resume_in_the_same_folder_keeps_every_epoch_of_metrics(
    compose_train, one_epoch_run
) -> None:
    run_dir, overrides = one_epoch_run
    last = run_dir / "checkpoints" / "last.ckpt"
    assert resume(compose_train, overrides, run_dir, last) == last
    metrics = run_dir / "metrics.csv"
    assert metric_epochs(metrics, "loss/init_content_step") == {0}  # epoch 0 rows kept
    assert metric_epochs(metrics, "loss/g_total_step") == {1}  # new column: header rewritten
    assert metric_epochs(metrics, "val/content") == {0, 1}
    assert torch.load(last, weights_only=True)["epoch"] == 1
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "epoch000.ckpt",
        "epoch001.ckpt",
        "last.ckpt",
    ]


def test_resume_of_a_copied_run_folder_overwrites_its_last_checkpoint(
    compose_train, one_epoch_run, tmp_path: Path
) -> None:
    original, overrides = one_epoch_run
    before = (original / "checkpoints" / "last.ckpt").read_bytes()
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    last = copy / "checkpoints" / "last.ckpt"
    assert resume(compose_train, overrides, copy, last) == last
    names = sorted(p.name for p in (copy / "checkpoints").iterdir())
    assert names == ["epoch000.ckpt", "epoch001.ckpt", "last.ckpt"]  # no last-v1.ckpt
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 1 and state["animegan"]["phase"] == "gan"
    assert metric_epochs(copy / "metrics.csv", "val/content") == {0, 1}
    # The folder it was copied from is not touched.
    assert (original / "checkpoints" / "last.ckpt").read_bytes() == before


def _craft(source: Path, target: Path, edit) -> Path:
    payload = torch.load(source, weights_only=True)
    edit(payload)
    torch.save(payload, target)
    torch.load(target, weights_only=True)  # still plain state: passes weights_only
    return target


def test_stored_config_and_paths_of_a_resumed_checkpoint_are_only_data(
    compose_train, one_epoch_run, tmp_path: Path
) -> None:
    """A checkpoint naming write targets in its config, and a file to delete in its callback
    state, resumes without writing or deleting anything."""
    run_dir, overrides = one_epoch_run
    written = tmp_path / "written"
    written.mkdir()
    keep = run_dir / "checkpoints" / "keep.ckpt"
    keep.write_bytes(b"the user's file")

    def edit(payload: dict) -> None:
        payload["animegan"]["config"] |= {
            "data": {"_target_": "builtins.open", "file": str(written / "open"), "mode": "w"},
            "model": {"_target_": "numpy.savetxt", "fname": str(written / "np"), "X": [1.0]},
            "loss": {"_target_": "torch.save", "obj": [1], "f": str(written / "pt")},
            "callbacks": {
                "_target_": "shutil.copyfile",
                "src": str(run_dir / "config_resolved.yaml"),
                "dst": str(written / "copy"),
            },
        }
        (key,) = [k for k in payload["callbacks"] if "Checkpoint" in k]
        # Lightning deletes the "previous last" file on the next save when it lies in dirpath.
        payload["callbacks"][key]["last_model_path"] = str(keep)

    crafted = _craft(run_dir / "checkpoints" / "last.ckpt", run_dir / "crafted.ckpt", edit)
    assert resume(compose_train, overrides, run_dir, crafted) is not None
    assert list(written.iterdir()) == []
    assert keep.read_bytes() == b"the user's file"


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("format", {"_target_": "builtins.open", "file": "x", "mode": "w"}, "format must be"),
        ("phase", {"_target_": "torch.save", "obj": 1, "f": "x"}, "phase must be"),
        ("skipped_updates", "many", "skipped_updates must be"),
        ("config", ["_target_", "numpy.savetxt"], "stored config is a list"),
    ],
)
def test_malformed_animegan_section_is_refused_before_anything_is_built(
    compose_train, tiny_overrides, tmp_path: Path, section: str, value, message: str
) -> None:
    payload = {
        "state_dict": {"generator.x": torch.zeros(1)},
        "animegan": {"format": 1, "phase": "gan", "init_epochs": 1, "config": {}},
    }
    payload["animegan"][section] = value
    crafted = tmp_path / "crafted.ckpt"
    torch.save(payload, crafted)
    cache = tmp_path / "cache"
    cfg = compose_train([*tiny_overrides, f"ckpt_path={crafted}"], tmp_path / "run")
    with pytest.raises(StoredConfigError, match=message):
        train(cfg)
    assert not cache.exists()  # no data scanned, no dataset built
    assert not (tmp_path / "run").exists()
