"""Every trainer option saves through AtomicCheckpointIO (DDP included)."""

from __future__ import annotations

from pathlib import Path

import hydra
import lightning as L
import pytest

from animegan.training.checkpoint_io import AtomicCheckpointIO

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("option", sorted(p.stem for p in (CONF / "trainer").glob("*.yaml")))
def test_trainer_option_uses_atomic_checkpoint_io(
    option: str, compose_train, tmp_path: Path
) -> None:
    overrides = [f"trainer={option}", "trainer.accelerator=cpu", "trainer.precision=32-true"]
    overrides.append("trainer.devices=2" if option == "ddp" else "trainer.devices=1")
    cfg = compose_train(overrides, tmp_path)
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, _convert_="all")
    assert isinstance(trainer, L.Trainer)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
