"""Every option of every config group composes and instantiates; typos are errors."""

from __future__ import annotations

from pathlib import Path

import hydra
import lightning as L
import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from animegan.cli.train import build_callbacks, build_loggers
from animegan.data import AnimeGANDataModule
from animegan.losses import AnimeGANObjective
from animegan.models import (
    Discriminator,
    Generator,
    GeneratorLite,
    VGG19Features,
    export_state_dict,
)
from animegan.training import AnimeGANModule

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))


def test_every_group_has_options() -> None:
    for group in [
        "model",
        "loss",
        "data",
        "trainer",
        "logger",
        "callbacks",
        "experiment",
        "metrics",
        "perf",
    ]:
        assert options(group), f"conf/{group}/ is empty"


@pytest.mark.parametrize("option", options("model"))
def test_model_options_instantiate(option: str, compose_train, tmp_path: Path) -> None:
    cfg = compose_train([f"model={option}", "model.vgg.weights=random"], tmp_path)
    generator = hydra.utils.instantiate(cfg.model.generator)
    assert isinstance(generator, GeneratorLite if option.endswith("_lite") else Generator)
    assert isinstance(hydra.utils.instantiate(cfg.model.discriminator), Discriminator)
    with pytest.warns(UserWarning, match="random"):
        assert isinstance(hydra.utils.instantiate(cfg.model.vgg), VGG19Features)


@pytest.mark.parametrize("option", options("loss"))
def test_loss_options_instantiate(option: str, compose_train, tmp_path: Path) -> None:
    cfg = compose_train([f"loss={option}"], tmp_path)
    objective = hydra.utils.instantiate(cfg.loss, _convert_="all")
    assert isinstance(objective, AnimeGANObjective)


def test_official_loss_weightings(compose_train, tmp_path: Path) -> None:
    # content, style, color, tv, D (real, fake, gray, smooth); sources in each YAML's comments.
    executed_d = (1.7, 1.7, 1.7, 1.0)  # tools/ops.py's hard-coded line, every style
    expected = {
        "official_code": (1.5, 2.5, 10, 1, *executed_d),  # train.py defaults
        "hayao": (1.5, 2.5, 10, 1, *executed_d),  # no published folder: code wins over comments
        "shinkai": (1.2, 2.0, 10, 1, *executed_d),
        "paprika": (1.5, 0.6, 50, 1, *executed_d),
    }
    for option, weights in expected.items():
        loss = compose_train([f"loss={option}"], tmp_path).loss
        g, d = loss.generator_weights, loss.discriminator_weights
        assert (g.content, g.style, g.color, g.tv, d.anime, d.fake, d.gray, d.smooth) == weights
        assert g.adversarial == 300 and d.scale == 300 and loss.adversarial == "lsgan"


@pytest.mark.parametrize(
    ("option", "folder"),
    [  # the published checkpoint folders of TachibanaYoshino/AnimeGANv2 (checkpoint/...)
        ("paprika", "AnimeGANv2_Paprika_lsgan_300_300_1_0_50_1"),
        ("shinkai", "AnimeGANv2_Shinkai_lsgan_300_300_1_2_10_1"),
    ],
)
def test_presets_reproduce_published_checkpoint_folder_names(
    compose_train, tmp_path: Path, option: str, folder: str
) -> None:
    loss = compose_train([f"loss={option}"], tmp_path).loss
    g, d = loss.generator_weights, loss.discriminator_weights
    # AnimeGANv2.py model_dir: int() of g_adv, d_adv, content, style, color, tv.
    name = "_".join(
        ["AnimeGANv2", option.capitalize(), loss.adversarial]
        + [str(int(w)) for w in (g.adversarial, d.scale, g.content, g.style, g.color, g.tv)]
    )
    assert name == folder


@pytest.mark.parametrize("option", options("data"))
def test_data_options_instantiate(option: str, compose_train, tmp_path: Path) -> None:
    cfg = compose_train([f"data={option}", f"data.root={tmp_path / 'data'}"], tmp_path)
    assert isinstance(hydra.utils.instantiate(cfg.data, _convert_="all"), AnimeGANDataModule)


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options_instantiate(option: str, compose_train, tmp_path: Path) -> None:
    # GPU options are checked for valid keys with accelerator=cpu (this machine has no GPU).
    overrides = [f"trainer={option}", "trainer.accelerator=cpu"]
    if option != "cpu":
        overrides += [
            "trainer.precision=32-true",
            "trainer.devices=2" if option == "ddp" else "trainer.devices=1",
        ]
    cfg = compose_train(overrides, tmp_path)
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert isinstance(trainer, L.Trainer)


@pytest.mark.parametrize("option", options("logger"))
def test_logger_options_instantiate(
    option: str, compose_train, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_train([f"logger={option}"], tmp_path)
    loggers = build_loggers(cfg.logger)
    assert loggers is False if option == "none" else len(loggers) == 1


@pytest.mark.parametrize("option", options("callbacks"))
def test_callback_options_instantiate(option: str, compose_train, tmp_path: Path) -> None:
    cfg = compose_train([f"callbacks={option}"], tmp_path)
    callbacks = build_callbacks(cfg.callbacks)
    assert callbacks and all(isinstance(callback, L.Callback) for callback in callbacks)


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_options_build_a_module(option: str, compose_train, tmp_path: Path) -> None:
    overrides = [f"experiment={option}", "model.vgg.weights=random", "data.root=/nonexistent"]
    if option == "face_id_finetune":  # starts from a generator file and a (here random) ArcFace
        start = export_state_dict(Generator(), tmp_path / "start.pt")
        overrides += [f"model.generator.path={start}", "module.arcface.onnx_path=null"]
    if option == "distill_lite":  # a (here random) full generator teaches the lite one
        teacher = export_state_dict(Generator(), tmp_path / "teacher.pt")
        overrides.append(f"module.teacher.path={teacher}")
    cfg = compose_train(overrides, tmp_path)
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    module = hydra.utils.instantiate(
        cfg.module,
        generator=hydra.utils.instantiate(cfg.model.generator),
        discriminator=hydra.utils.instantiate(cfg.model.discriminator),
        feature_extractor=hydra.utils.instantiate(cfg.model.vgg),
        objective=hydra.utils.instantiate(cfg.loss, _convert_="all"),
        _convert_="all",
    )
    assert isinstance(module, AnimeGANModule)
    # The networks are the module's children; VGG is not (never in checkpoints or optimizers).
    assert not any(key.startswith("feature_extractor") for key in module.state_dict())
    assert not any(key.startswith(("arcface", "teacher")) for key in module.state_dict())
    if option == "distill_lite":
        assert type(module.teacher) is Generator and module.objective.needs_teacher
        assert type(module.generator).__name__ == "GeneratorLite"


def test_override_typo_is_an_error(compose_train, tmp_path: Path) -> None:
    with pytest.raises(ConfigCompositionException):
        compose_train(["trainer.max_epoch=2"], tmp_path)
    with pytest.raises(ConfigCompositionException):
        compose_train(["loss=hayoa"], tmp_path)


def test_train_override_examples_compose(compose_train, tmp_path: Path) -> None:
    cfg = compose_train(["loss=shinkai", "trainer.max_epochs=2"], tmp_path)
    assert cfg.trainer.max_epochs == 2 and cfg.loss.generator_weights.content == 1.2
    assert cfg.name == "quickstart"  # the default experiment


def test_perf_fast_turns_on_every_speed_lever(compose_train, tmp_path: Path) -> None:
    eager = compose_train(["trainer=gpu"], tmp_path)
    fast = compose_train(["trainer=gpu", "perf=fast"], tmp_path)
    assert not eager.module.channels_last and not eager.module.compile
    assert fast.trainer.precision == "bf16-mixed"
    assert fast.module.channels_last and fast.module.compile
    for name in ("init_optimizer", "generator_optimizer", "discriminator_optimizer"):
        assert "fused" not in eager.module[name]
        optimizer = hydra.utils.instantiate(fast.module[name])([torch.nn.Parameter(torch.zeros(1))])
        assert optimizer.defaults["fused"] is True and optimizer.defaults["betas"] == (0.5, 0.999)
    # An experiment's or the command line's module switches still win over the perf group.
    cfg = compose_train(["perf=fast", "module.compile=false"], tmp_path)
    assert cfg.module.compile is False and cfg.module.channels_last is True


def test_official_experiment_uses_caffe_vgg_official_init_and_code_weights(
    compose_train, tmp_path: Path
) -> None:
    cfg = compose_train(["experiment=official"], tmp_path)
    assert cfg.model.vgg.weights == "caffe"
    torch.manual_seed(0)
    generator = hydra.utils.instantiate(cfg.model.generator)
    torch.manual_seed(0)
    assert torch.equal(generator.block_a[0][1].weight, Generator(init="official").block_a[0][1].weight)
    g, d = cfg.loss.generator_weights, cfg.loss.discriminator_weights
    assert (g.content, g.style, g.color, g.tv) == (1.5, 2.5, 10, 1)
    assert (d.anime, d.fake, d.gray, d.smooth) == (1.7, 1.7, 1.7, 1.0)
    assert cfg.module.init_epochs == 10 and cfg.trainer.max_epochs == 101
