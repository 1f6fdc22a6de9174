"""Config values are checked right after composition: one line per bad value, nothing built."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from animegan.cli.validate import ConfigValueError, check_eval_config, check_train_config

CONF_DIR = Path(__file__).resolve().parents[3] / "conf"


def composed(overrides: list[str], config_name: str = "train"):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides)
    GlobalHydra.instance().clear()
    return cfg


@pytest.mark.parametrize(
    "experiment", sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
)
def test_every_shipped_experiment_passes(experiment: str) -> None:
    overrides = [f"experiment={experiment}"]
    if experiment == "face_id_finetune":
        overrides.append("data.root=/data/faces")
    if experiment == "distill_lite":
        overrides.append("module.teacher.path=/runs/teacher.ckpt")
    check_train_config(composed(overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["experiment=distill_lite"], "module.teacher.path is not set"),
        (
            ["loss.generator_weights.distill_content=2"],
            "loss.generator_weights.distill_content=2 needs a teacher generator",
        ),
        (
            ["experiment=distill_lite", "module.teacher=null"],
            "loss.generator_weights.distill_pixel=300.0 needs a teacher generator",
        ),
    ],
)
def test_distillation_without_a_teacher_is_one_line(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigValueError, match=message):
        check_train_config(composed(overrides))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.max_epochs=abc",
            "trainer.max_epochs='abc' is not valid: expected a whole number",
        ),
        ("trainer.max_epochs=-2", "trainer.max_epochs=-2 is not valid"),
        ("trainer.max_epochs=1.5", "trainer.max_epochs=1.5 is not valid"),
        ("trainer.max_steps=many", "trainer.max_steps='many'"),
        ("trainer.limit_train_batches=1.5", "a fraction in \\[0, 1\\]"),
        ("trainer.limit_train_batches=abc", "trainer.limit_train_batches='abc'"),
        ("trainer.log_every_n_steps=0", "trainer.log_every_n_steps=0"),
        (
            "module.generator_optimizer.lr=0",
            "module.generator_optimizer.lr=0 is not valid: expected a finite number > 0",
        ),
        ("module.discriminator_optimizer.lr=-1e-4", "module.discriminator_optimizer.lr=-0.0001"),
        ("module.init_optimizer.lr=abc", "module.init_optimizer.lr='abc'"),
        ("module.init_optimizer.lr=nan", "module.init_optimizer.lr=nan"),
        ("module.generator_optimizer.betas=[0.5,1.5]", "two numbers in \\[0, 1\\)"),
        ("module.init_epochs=-1", "module.init_epochs=-1"),
        ("data.batch_size=abc", "data.batch_size='abc' is not valid: expected a whole number >= 1"),
        ("data.batch_size=0", "data.batch_size=0"),
        ("data.batch_size=true", "data.batch_size=True"),
        ("data.image_size=big", "data.image_size='big'"),
        ("data.num_workers=-1", "data.num_workers=-1"),
        ("seed=abc", "seed='abc'"),
        ("matmul_precision=fast", "matmul_precision='fast' is not valid: expected one of highest"),
        ("ckpt_path=[a,b]", "ckpt_path="),
    ],
)
def test_bad_training_values_are_one_line(override: str, message: str) -> None:
    cfg = composed(["experiment=quickstart", override])
    with pytest.raises(ConfigValueError, match=message) as info:
        check_train_config(cfg)
    assert "\n" not in str(info.value) and ", e.g. " in str(info.value)


def test_good_edge_values_pass() -> None:
    cfg = composed(
        [
            "trainer.max_epochs=-1",
            "trainer.limit_train_batches=0.5",
            "module.generator_optimizer.lr=1",
            "data.num_workers=0",
        ]
    )
    check_train_config(cfg)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], "ckpt is required"),
        (["ckpt=[]"], "non-empty list"),
        (["ckpt=a.ckpt", "device=gpu"], "device='gpu'"),
        (["ckpt=a.ckpt", "matmul_precision=low"], "matmul_precision='low'"),
        (["ckpt=a.ckpt", "labels=abc"], "labels='abc'"),
        (["ckpt=a.ckpt", "metrics=tiny", "metrics.image_size=abc"], "metrics.image_size='abc'"),
    ],
)
def test_bad_eval_values_are_one_line(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigValueError, match=message):
        check_eval_config(composed(overrides, "eval"))


def test_good_eval_values_pass() -> None:
    check_eval_config(composed(["ckpt=[a.ckpt,b.ckpt]", "device=cuda:1"], "eval"))


def test_attention_on_the_lite_generator_is_one_line() -> None:
    with pytest.raises(ConfigValueError, match="model.generator.attention='se' is not valid"):
        check_train_config(composed(["model=animeganv2_lite", "+model.generator.attention=se"]))
