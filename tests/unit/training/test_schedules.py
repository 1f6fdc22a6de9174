"""Learning-rate schedules: constant is today's run, cosine per phase, exact resume, logged."""

from __future__ import annotations

import csv
import math
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader

from animegan.losses import AnimeGANObjective
from animegan.training import AnimeGANModule
from animegan.training.schedules import LearningRateSchedule, build_schedulers, check_schedule

BASE_LRS = (1e-3, 2e-4, 4e-4)  # init, generator, discriminator


class _Batches(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        image = lambda: torch.rand(3, 16, 16, generator=generator) * 2 - 1  # noqa: E731
        gray = image().mean(0, keepdim=True).expand(3, -1, -1)
        return {"photo": image(), "anime": image(), "anime_gray": gray, "anime_smooth_gray": gray}


def _module(schedule: str, init_epochs: int = 2, eta_min_ratio: float = 0.1) -> AnimeGANModule:
    torch.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2))
    features.requires_grad_(False)
    return AnimeGANModule(
        generator=nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh()),
        discriminator=nn.Conv2d(3, 1, 3, padding=1),
        feature_extractor=features.eval(),
        objective=AnimeGANObjective({}, {}),
        init_optimizer=partial(torch.optim.Adam, lr=BASE_LRS[0]),
        generator_optimizer=partial(torch.optim.Adam, lr=BASE_LRS[1]),
        discriminator_optimizer=partial(torch.optim.Adam, lr=BASE_LRS[2]),
        init_epochs=init_epochs,
        schedule=schedule,
        eta_min_ratio=eta_min_ratio,
    )


class _LrRecorder(L.Callback):
    """Each optimizer's learning rate at the start of every epoch (the rate the epoch trains at)."""

    def __init__(self, stop_after_epoch: int | None = None) -> None:
        self.lrs: list[tuple[float, ...]] = []
        self.stop_after_epoch = stop_after_epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.lrs.append(tuple(opt.param_groups[0]["lr"] for opt in trainer.optimizers))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.stop_after_epoch:
            trainer.should_stop = True  # an interrupted run: max_epochs (and so T_max) unchanged


def _trainer(epochs: int, callbacks: list[L.Callback], **kwargs) -> L.Trainer:
    kwargs.setdefault("logger", False)
    kwargs.setdefault("enable_checkpointing", False)
    return L.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        limit_train_batches=2,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
        **kwargs,
    )


def _loader() -> DataLoader:
    return DataLoader(_Batches(), batch_size=2)


def _cosine(base: float, k: int, n: int, ratio: float = 0.1) -> float:
    eta_min = ratio * base
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * k / n)) / 2


def test_constant_builds_no_scheduler_and_keeps_every_rate() -> None:
    module, recorder = _module("constant"), _LrRecorder()
    trainer = _trainer(4, [recorder])
    trainer.fit(module, _loader())
    assert trainer.lr_scheduler_configs == []
    assert recorder.lrs == [BASE_LRS] * 4


def test_cosine_anneals_each_optimizer_over_its_own_phase() -> None:
    # init phase: epochs 0-1 (T_max 2); GAN phase: epochs 2-4 (T_max 3).
    module, recorder = _module("cosine", init_epochs=2), _LrRecorder()
    trainer = _trainer(5, [recorder])
    trainer.fit(module, _loader())
    init, gen, disc = BASE_LRS
    expected = [
        (_cosine(init, 0, 2), gen, disc),
        (_cosine(init, 1, 2), gen, disc),
        (_cosine(init, 2, 2), _cosine(gen, 0, 3), _cosine(disc, 0, 3)),
        (_cosine(init, 2, 2), _cosine(gen, 1, 3), _cosine(disc, 1, 3)),
        (_cosine(init, 2, 2), _cosine(gen, 2, 3), _cosine(disc, 2, 3)),
    ]
    assert len(recorder.lrs) == len(expected)
    for got, want in zip(recorder.lrs, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-9)
    # After the last epoch G and D reach eta_min (0.1 x their rate), no restart.
    final = [opt.param_groups[0]["lr"] for opt in trainer.optimizers]
    assert final == pytest.approx([0.1 * init, 0.1 * gen, 0.1 * disc], rel=1e-9)


def _optimizer_tensors(trainer: L.Trainer) -> list[torch.Tensor]:
    return [
        value
        for opt in trainer.optimizers
        for state in opt.state_dict()["state"].values()
        for value in state.values()
    ]


def test_cosine_resumes_exactly_from_a_checkpoint(tmp_path: Path) -> None:
    straight = _LrRecorder()
    trainer = _trainer(4, [straight])
    trainer.fit(_module("cosine", init_epochs=1), _loader())

    first = _LrRecorder(stop_after_epoch=1)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    interrupted = _trainer(4, [first, checkpoint], enable_checkpointing=True)
    interrupted.fit(_module("cosine", init_epochs=1), _loader())
    assert interrupted.current_epoch == 2
    second = _LrRecorder()
    resumed = _trainer(4, [second])
    resumed.fit(
        _module("cosine", init_epochs=1),
        _loader(),
        ckpt_path=str(tmp_path / "last.ckpt"),
        weights_only=True,
    )
    assert first.lrs + second.lrs == straight.lrs
    assert [c.scheduler.state_dict() for c in resumed.lr_scheduler_configs] == [
        c.scheduler.state_dict() for c in trainer.lr_scheduler_configs
    ]
    for got, want in zip(_optimizer_tensors(resumed), _optimizer_tensors(trainer), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_learning_rate_monitor_logs_the_schedule_under_the_constant_runs_names(
    tmp_path: Path,
) -> None:
    columns = {}
    for schedule in ("constant", "cosine"):
        logger = CSVLogger(tmp_path, name=schedule, version=0)
        monitor = LearningRateMonitor(logging_interval="epoch")
        _trainer(3, [monitor], logger=logger).fit(_module(schedule, init_epochs=1), _loader())
        with open(Path(logger.log_dir) / "metrics.csv") as handle:
            rows = list(csv.DictReader(handle))
        columns[schedule] = {
            name: [float(row[name]) for row in rows if row.get(name)]
            for name in rows[0]
            if name.startswith("lr-")
        }
    assert sorted(columns["constant"]) == sorted(columns["cosine"])
    assert len(columns["cosine"]) == 3
    # Logged at each epoch start: init rate 1e-3 then its eta_min; G 2e-4 then half way down.
    logged = columns["cosine"].values()
    assert any(v == pytest.approx([1e-3, 1e-4, 1e-4]) for v in logged)
    assert any(v == pytest.approx([2e-4, 2e-4, _cosine(2e-4, 1, 2)]) for v in logged)
    assert any(v == pytest.approx([2e-4, 2e-4, 2e-4]) for v in columns["constant"].values())


def test_bad_schedule_values_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match="module.schedule must be one of constant, cosine"):
        check_schedule("linear", 0.0)
    with pytest.raises(ValueError, match=r"eta_min_ratio must be in \[0, 1\]"):
        check_schedule("cosine", 1.5)
    with pytest.raises(ValueError, match="set trainer.max_epochs above init_epochs=3"):
        build_schedulers([], "cosine", 3, 0.0, max_epochs=3)
    with pytest.raises(ValueError, match=r"eta_min_ratio must be in \[0, 1\]"):
        LearningRateSchedule("cosine", init_epochs=1, eta_min_ratio=-0.1)
    with pytest.raises(ValueError, match="module.schedule must be one of"):
        _module("step")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"module": {"schedule": "linear"}}, "module.schedule='linear' is not valid"),
        ({"module": {"eta_min_ratio": 2}}, "module.eta_min_ratio=2 is not valid"),
        (
            {"module": {"schedule": "cosine", "init_epochs": 5}, "trainer": {"max_epochs": 5}},
            "trainer.max_epochs=5 is not valid: expected above module.init_epochs",
        ),
        (
            {"module": {"schedule": "cosine", "init_epochs": 0}, "trainer": {"max_epochs": -1}},
            "trainer.max_epochs=-1 is not valid",
        ),
        ({"model": {"generator": {"attention": "cbam"}}}, "attention='cbam' is not valid"),
    ],
)
def test_cli_check_refuses_bad_schedule_and_attention_values(values: dict, message: str) -> None:
    from omegaconf import OmegaConf

    from animegan.cli.validate import ConfigValueError, check_train_config

    with pytest.raises(ConfigValueError, match=message):
        check_train_config(OmegaConf.create(values))
    good = {"module": {"schedule": "cosine", "init_epochs": 1}, "trainer": {"max_epochs": 2}}
    check_train_config(OmegaConf.create(good))
