"""GPU-only checks of the fast path (skipped without CUDA): perf=fast trains through the real CLI,
and a bf16 + channels-last + compiled step stays finite and close to the fp32 step."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch

from animegan.cli.train import train
from animegan.losses import AnimeGANObjective
from animegan.models import Discriminator, Generator, VGG19Features
from animegan.training import AnimeGANModule

pytestmark = pytest.mark.gpu


def test_perf_fast_trains_on_the_gpu_through_the_cli(
    compose_train, tiny_overrides: list[str], tmp_path: Path
) -> None:
    cfg = compose_train([*tiny_overrides, "trainer=gpu", "perf=fast", "metrics=none"], tmp_path)
    last = train(cfg)
    assert last is not None and last.is_file()
    state = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert not any("_orig_mod" in key for key in state)  # compiled in place: keys unchanged


class _FirstBatchLosses(L.Callback):
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx == 0:
            metrics = trainer.callback_metrics
            self.values = {k: float(v) for k, v in metrics.items() if k.endswith("_step")}


def test_fast_step_losses_are_close_to_fp32_on_the_first_batch() -> None:
    losses = {}
    for name, precision, fast in (("fp32", "32-true", False), ("fast", "bf16-mixed", True)):
        torch.manual_seed(0)
        adam = partial(torch.optim.Adam, betas=(0.5, 0.999), fused=fast or None)
        module = AnimeGANModule(
            generator=Generator(),
            discriminator=Discriminator(),
            feature_extractor=VGG19Features("random"),
            objective=AnimeGANObjective({}, {}),
            init_optimizer=partial(adam, lr=2e-4),
            generator_optimizer=partial(adam, lr=2e-5),
            discriminator_optimizer=partial(adam, lr=4e-5),
            init_epochs=0,
            channels_last=fast,
            compile=fast,
        )
        torch.manual_seed(1)
        images = torch.rand(4, 4, 3, 128, 128) * 2 - 1
        batch = {
            "photo": images[0],
            "anime": images[1],
            "anime_gray": images[2],
            "anime_smooth_gray": images[3],
        }
        record = _FirstBatchLosses()
        trainer = L.Trainer(
            accelerator="gpu",
            devices=1,
            precision=precision,
            max_epochs=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            callbacks=[record],
        )
        trainer.fit(module, torch.utils.data.DataLoader([batch] * 2, batch_size=None))
        losses[name] = record.values
    for key, reference in losses["fp32"].items():
        assert abs(losses["fast"][key] - reference) <= 0.05 * abs(reference) + 1e-3, key
