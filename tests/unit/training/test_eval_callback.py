"""The training evaluation callback, run by a real Trainer on a tiny real datamodule: cadence,
the inputs it evaluates, what it logs and writes, disabled mode. The evaluator is a recording
fake injected through the callback's constructor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from animegan.data.datamodule import AnimeGANDataModule
from animegan.evaluation.evaluator import EvaluationResult, inputs_from_datamodule
from animegan.training.eval_callback import EvaluationCallback

SIZE = 16


class RecordingEvaluator:
    """Stands in for an Evaluator: records each call and returns a small fixed result."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def evaluate(self, generator: nn.Module, photos, references, *, device=None):
        self.calls.append(
            {"generator": generator, "photos": list(photos), "references": list(references)}
        )
        empty = torch.zeros(0, 3, SIZE, SIZE, dtype=torch.uint8)
        return EvaluationResult(
            metrics={"fid": float(len(self.calls))},
            per_image=[],
            photos=empty,
            fakes=empty,
            info={"seconds": 0.0},
        )


class TinyModule(L.LightningModule):
    """The least a LightningModule needs to train with the callback: a generator to evaluate."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = nn.Conv2d(3, 3, 1)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.generator(batch["photo"]).square().mean()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.generator(batch["photo"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


@pytest.fixture
def datamodule(tmp_path: Path) -> AnimeGANDataModule:
    rng = np.random.default_rng(0)
    for folder, count in (("photo", 4), ("anime", 3)):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for index in range(count):
            pixels = rng.integers(0, 256, (SIZE + 4, SIZE + 2, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / folder / f"{index}.png")
    return AnimeGANDataModule(
        root=tmp_path / "data",
        image_size=SIZE,
        batch_size=2,
        num_val_images=2,
        cache_dir=tmp_path / "cache",
    )


def fit(callback: EvaluationCallback, datamodule: AnimeGANDataModule, **trainer_options) -> Any:
    module = TinyModule()
    options = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "limit_train_batches": 1,
        "limit_val_batches": 1,
        "num_sanity_val_steps": 0,
    }
    trainer = L.Trainer(callbacks=[callback], **(options | trainer_options))
    trainer.fit(module, datamodule=datamodule)
    return trainer, module


def epochs_written(dirpath: Path) -> list[str]:
    return sorted(p.name for p in dirpath.iterdir()) if dirpath.exists() else []


def test_evaluates_every_n_epochs_and_after_the_last(
    datamodule: AnimeGANDataModule, tmp_path: Path
) -> None:
    evaluator = RecordingEvaluator()
    callback = EvaluationCallback(evaluator, every_n_epochs=3, dirpath=tmp_path / "eval")
    trainer, module = fit(callback, datamodule, max_epochs=8, check_val_every_n_epoch=100)
    assert epochs_written(tmp_path / "eval") == ["epoch_002", "epoch_005", "epoch_007"]
    written = json.loads((tmp_path / "eval" / "epoch_007" / "metrics.json").read_text())
    assert (written["epoch"], written["global_step"], written["metrics"]) == (7, 8, {"fid": 3.0})
    assert trainer.callback_metrics["metrics/fid"] == 3.0  # logged through the module
    assert callback.last_result is not None and callback.last_result.metrics == {"fid": 3.0}
    # It evaluates the module's generator on the datamodule's validation photos and anime.
    photos, references = inputs_from_datamodule(datamodule)
    assert evaluator.calls[0]["generator"] is module.generator
    assert evaluator.calls[0]["photos"] == list(photos) and len(photos) == 2
    assert evaluator.calls[0]["references"] == list(references) and len(references) == 3


def test_endless_training_evaluates_only_on_the_cadence(
    datamodule: AnimeGANDataModule, tmp_path: Path
) -> None:
    callback = EvaluationCallback(RecordingEvaluator(), every_n_epochs=3, dirpath=tmp_path / "e")
    fit(callback, datamodule, max_epochs=-1, max_steps=4)  # 4 epochs of one step
    assert epochs_written(tmp_path / "e") == ["epoch_002"]


def test_not_during_the_sanity_check_and_nothing_when_disabled(
    datamodule: AnimeGANDataModule, tmp_path: Path
) -> None:
    evaluator = RecordingEvaluator()
    sanity = EvaluationCallback(evaluator, every_n_epochs=5, dirpath=tmp_path / "sanity")
    fit(sanity, datamodule, max_epochs=1, num_sanity_val_steps=1)
    assert len(evaluator.calls) == 1 and epochs_written(tmp_path / "sanity") == ["epoch_000"]
    disabled = EvaluationCallback(None, dirpath=tmp_path / "off")
    trainer, _ = fit(disabled, datamodule, max_epochs=2)
    assert disabled.last_result is None and not (tmp_path / "off").exists()
    assert not any(name.startswith("metrics/") for name in trainer.callback_metrics)


def test_rejects_a_zero_cadence() -> None:
    with pytest.raises(ValueError, match="every_n_epochs"):
        EvaluationCallback(None, every_n_epochs=0)
