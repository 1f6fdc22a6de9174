"""W&B helpers: sweep run names/tags (pure and from the Hydra runtime), safe finish."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import open_dict

from animegan.cli.wandb_run import apply_sweep_settings
from animegan.evaluation.wandb_logging import finish_wandb, sweep_run_settings

CONF_DIR = Path(__file__).resolve().parents[3] / "conf"


def test_sweep_run_settings() -> None:
    assert sweep_run_settings("ablation", None, ["seed=1"], ["aug"]) == {
        "name": "ablation",
        "tags": ["aug", "seed=1"],
    }
    long_override = "data.root=" + "x" * 100
    settings = sweep_run_settings("ablation", 3, ["loss=shinkai", long_override, "aug"], ["aug"])
    assert settings["name"] == "ablation-3"
    assert settings["tags"] == ["aug", "loss=shinkai", long_override[:64]]


def test_finish_is_a_no_op_without_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "wandb", raising=False)
    finish_wandb()  # wandb never imported: nothing to do, nothing imported
    assert "wandb" not in sys.modules


@pytest.fixture
def hydra_job():
    """Compose train.yaml with its hydra node and register it as the running job's config."""

    def _set(mode: RunMode, overrides: list[str]):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.mode = mode
            cfg.hydra.job.num = 1
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        return cfg

    yield _set
    HydraConfig.instance().cfg = None
    GlobalHydra.instance().clear()


def test_multirun_job_gets_its_own_name_and_override_tags(hydra_job) -> None:
    cfg = hydra_job(
        RunMode.MULTIRUN, ["logger=wandb", "seed=7", "logger.wandb.tags=[aug]", "paths.data_dir=x"]
    )
    apply_sweep_settings(cfg)
    assert cfg.logger.wandb.name == "quickstart-1"
    assert list(cfg.logger.wandb.tags) == ["aug", "seed=7"]
    assert cfg.logger.wandb.group == "quickstart"


def test_single_run_and_other_loggers_are_left_alone(hydra_job) -> None:
    cfg = hydra_job(RunMode.RUN, ["logger=wandb", "seed=7"])
    apply_sweep_settings(cfg)
    assert cfg.logger.wandb.name == "quickstart" and list(cfg.logger.wandb.tags) == []
    cfg = hydra_job(RunMode.MULTIRUN, ["logger=csv"])
    apply_sweep_settings(cfg)
    assert "wandb" not in cfg.logger
