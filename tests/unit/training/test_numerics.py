"""The non-finite guard: gradient check, term report, consecutive-skip limit, and the module path."""

from __future__ import annotations

import math
from functools import partial

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from animegan.losses import AnimeGANObjective
from animegan.training import AnimeGANModule
from animegan.training.numerics import (
    NonFiniteGuard,
    NonFiniteTrainingError,
    gradients_are_finite,
    nonfinite_terms,
)


def _params_with_grads(*values: float) -> list[nn.Parameter]:
    params = []
    for value in values:
        parameter = nn.Parameter(torch.zeros(3))
        parameter.grad = torch.tensor([0.0, 1.0, value])
        params.append(parameter)
    return params


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_gradients_are_finite_detects_any_bad_entry(bad: float) -> None:
    assert gradients_are_finite(_params_with_grads(1.0, 2.0))
    assert not gradients_are_finite(_params_with_grads(1.0, bad))


def test_parameters_without_grads_count_as_finite() -> None:
    assert gradients_are_finite([nn.Parameter(torch.zeros(2))])
    assert gradients_are_finite([])


def test_nonfinite_terms_names_the_bad_terms() -> None:
    terms = {"a": torch.tensor(1.0), "b": torch.tensor(math.nan), "c": torch.tensor(math.inf)}
    assert nonfinite_terms(terms) == ["b", "c"]


def test_guard_raises_after_too_many_consecutive_skips_of_one_kind() -> None:
    guard = NonFiniteGuard(max_consecutive=3)
    for _ in range(2):
        guard.record("generator", False)
        guard.record("discriminator", True)  # other kinds do not reset or add to the count
    guard.record("generator", True)  # a good generator update resets its count
    guard.record("generator", False)
    guard.record("generator", False)
    assert guard.skipped == 4
    with pytest.raises(NonFiniteTrainingError, match="3 consecutive generator updates"):
        guard.record("generator", False)
    with pytest.raises(ValueError):
        NonFiniteGuard(max_consecutive=-1)


class _PoisonedBatches(torch.utils.data.Dataset):
    """Batches of 16² images; the batch index listed in ``poisoned`` has a NaN photo pixel."""

    def __init__(self, poisoned: set[int], length: int = 4) -> None:
        self.poisoned, self.length = poisoned, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        photo = torch.rand(3, 16, 16, generator=generator) * 2 - 1
        if index in self.poisoned:
            photo[0, 3, 3] = math.nan
        anime = torch.rand(3, 16, 16, generator=generator) * 2 - 1
        gray = anime.mean(0, keepdim=True).expand(3, -1, -1).contiguous()
        return {"photo": photo, "anime": anime, "anime_gray": gray, "anime_smooth_gray": gray}


class _Snapshots(L.Callback):
    """Parameters after every batch, to see which batches changed the weights."""

    def __init__(self) -> None:
        self.after: list[dict[str, torch.Tensor]] = []
        self.logged: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.after.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()})
        skipped = trainer.callback_metrics.get("train/skipped_updates")  # absent without guard
        if skipped is not None:
            self.logged.append(float(skipped))


def _module(**kwargs) -> AnimeGANModule:
    torch.manual_seed(0)
    adam = partial(torch.optim.Adam, lr=1e-3)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()).requires_grad_(False)
    return AnimeGANModule(
        generator=nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh()),
        discriminator=nn.Conv2d(3, 1, 3, padding=1),
        feature_extractor=features.eval(),
        objective=AnimeGANObjective({}, {}),
        init_optimizer=adam,
        generator_optimizer=adam,
        discriminator_optimizer=adam,
        init_epochs=0,
        **kwargs,
    )


def _fit(module: AnimeGANModule, poisoned: set[int], callback: L.Callback) -> None:
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
    )
    trainer.fit(module, DataLoader(_PoisonedBatches(poisoned), batch_size=1))


def test_a_nan_batch_is_skipped_reported_and_training_goes_on() -> None:
    module = _module()
    snapshots = _Snapshots()
    with pytest.warns(UserWarning, match=r"skipped the generator update.*\['g_adv', 'content'"):
        _fit(module, poisoned={1}, callback=snapshots)
    before, poisoned, after = snapshots.after[0], snapshots.after[1], snapshots.after[2]
    # The NaN photo reaches both updates (D sees the fake): neither network changes on batch 1,
    # both train again on batch 2 and stay finite.
    for key in before:
        assert torch.equal(before[key], poisoned[key]), key
        assert torch.isfinite(after[key]).all() and not torch.equal(poisoned[key], after[key])
    assert module.nonfinite_guard.skipped == 2
    assert snapshots.logged == [0.0, 2.0, 2.0, 2.0]


def test_without_the_guard_a_nan_batch_corrupts_the_generator() -> None:
    snapshots = _Snapshots()
    _fit(_module(skip_nonfinite=False), poisoned={1}, callback=snapshots)
    assert not torch.isfinite(snapshots.after[-1]["generator.0.weight"]).all()
    assert snapshots.logged == []  # no counter without the guard


def test_a_run_that_keeps_diverging_stops_with_a_clear_error() -> None:
    with pytest.raises(NonFiniteTrainingError, match="2 consecutive discriminator updates"):
        _fit(_module(max_consecutive_nonfinite=2), poisoned={0, 1, 2}, callback=_Snapshots())


def test_under_fp16_loss_scaling_the_grad_scaler_handles_overflow() -> None:
    """fp16 gradients are scaled until the step: the scaler, not the guard, must see the inf."""
    from lightning.pytorch.plugins import MixedPrecision

    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    module = _module(max_consecutive_nonfinite=1)  # the guard would stop at the first skip
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        plugins=[MixedPrecision("16-mixed", "cpu", scaler)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, DataLoader(_PoisonedBatches({1}), batch_size=1))
    assert module.nonfinite_guard.skipped == 0
    assert scaler.get_scale() < 2.0**16  # the scaler saw the NaN step and backed off
    assert all(torch.isfinite(p).all() for p in module.parameters())
