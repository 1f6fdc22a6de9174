"""The architecture study's experiments compose: 4 attention x 2 schedule arms, seeds, one budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from animegan.experiments.ablation import StudySettings

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def _hydra_config(overrides: list[str]) -> Any:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg


def test_architecture_study_defines_arms_seeds_budget_and_metric() -> None:
    tiny = _hydra_config(["experiment=architecture_ablation"])
    gpu = _hydra_config(["experiment=architecture_ablation_gpu"])
    augmentation = _hydra_config(["experiment=augmentation_ablation"])
    for cfg in (tiny, gpu):
        study = cfg.study
        settings = StudySettings(
            group_by=tuple(study.group_by),
            metrics=tuple(study.metrics),
            decisive_metric=study.decisive_metric,
            mode=study.mode,
            baseline=study.baseline,
        )
        assert settings.group_by == ("model.generator.attention", "module.schedule")
        assert settings.baseline == "none/constant"
        # The same metrics and decisive metric as the augmentation study.
        assert list(study.metrics) == list(augmentation.study.metrics)
        assert settings.decisive_metric == augmentation.study.decisive_metric == "metrics/fid"
        assert cfg.hydra.mode.name == "MULTIRUN"
        params = cfg.hydra.sweeper.params
        assert str(params["model.generator.attention"]).split(",") == [
            "none",
            "se",
            "spatial",
            "both",
        ]
        assert str(params["module.schedule"]).split(",") == ["constant", "cosine"]
        assert len(str(params.seed).split(",")) >= 3
        # Defaults in force for a single run: the published generator at constant rates.
        assert (cfg.model.generator.attention, cfg.module.schedule) == ("none", "constant")
        assert cfg.module.init_epochs < cfg.trainer.max_epochs  # cosine needs a GAN phase
        subdir = OmegaConf.to_container(cfg.hydra.sweep, resolve=False)["subdir"]
        assert "${model.generator.attention}_${module.schedule}" in subdir
    # The tiny budget is the augmentation study's, the GPU budget too.
    for key in ("image_size", "batch_size", "num_val_images"):
        assert tiny.data[key] == augmentation.data[key]
    assert (tiny.module.init_epochs, tiny.trainer.max_epochs) == (1, 4)
    assert tiny.trainer.accelerator == "cpu" and tiny.data.builtin
    assert gpu.trainer.accelerator == "gpu" and gpu.data.style == "Hayao"
    assert (gpu.data.image_size, gpu.module.init_epochs, gpu.trainer.max_epochs) == (256, 10, 101)
    assert tiny.model.generator._target_ == "animegan.models.Generator"
