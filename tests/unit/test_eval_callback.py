"""The training evaluation callback: cadence, sanity-check guard, disabled mode."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from animegan.training.eval_callback import EvaluationCallback


class RecordingEvaluator:
    def __init__(self) -> None:
        self.calls = 0

    def evaluate(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        raise StopIteration  # the test only checks whether evaluation started


def fake_trainer(epoch: int, max_epochs: int = 10, sanity: bool = False) -> SimpleNamespace:
    datamodule = SimpleNamespace(layout=object(), val_photos=["p.png"], scans={"anime": None})
    datamodule.scans = {"anime": SimpleNamespace(paths=["a.png", "b.png"])}
    return SimpleNamespace(
        current_epoch=epoch, max_epochs=max_epochs, sanity_checking=sanity, datamodule=datamodule
    )


def run_epoch_end(callback: EvaluationCallback, trainer: SimpleNamespace) -> bool:
    module = SimpleNamespace(generator=None, device="cpu")
    try:
        callback.on_train_epoch_end(trainer, module)
    except StopIteration:
        return True
    return False


def test_evaluates_every_n_epochs_and_after_the_last() -> None:
    callback = EvaluationCallback(RecordingEvaluator(), every_n_epochs=3)
    ran = [run_epoch_end(callback, fake_trainer(epoch, max_epochs=8)) for epoch in range(8)]
    assert ran == [False, False, True, False, False, True, False, True]
    endless = [run_epoch_end(callback, fake_trainer(epoch, max_epochs=-1)) for epoch in range(4)]
    assert endless == [False, False, True, False]


def test_nothing_runs_during_the_sanity_check_or_when_disabled() -> None:
    evaluator = RecordingEvaluator()
    assert not run_epoch_end(EvaluationCallback(evaluator), fake_trainer(0, sanity=True))
    assert evaluator.calls == 0
    assert not run_epoch_end(EvaluationCallback(None), fake_trainer(0))


def test_rejects_a_zero_cadence() -> None:
    with pytest.raises(ValueError, match="every_n_epochs"):
        EvaluationCallback(None, every_n_epochs=0)
