"""Every augmentation recipe, the ablation experiments and the sweep launchers compose and build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import albumentations as A
import hydra
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import InstantiationException
from omegaconf import OmegaConf
from PIL import Image

from animegan.data.augmentation import LowLightCLAHE, StyleMixup
from animegan.data.datasets import UnpairedPhotoAnimeDataset
from animegan.data.smoothing import SmoothCache
from animegan.experiments.ablation import StudySettings

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
RECIPES = sorted(path.stem for path in (CONF_DIR / "augmentation").glob("*.yaml"))
SIZE = 32

# Hand-written expectations: which steps each recipe switches on (photo side, anime side, mixup).
EXPECTED_STEPS: dict[str, tuple[set[str], set[str], bool]] = {
    "none": ({"crop"}, {"crop"}, False),
    "basic": ({"crop", "flip"}, {"crop", "flip"}, False),
    "affine": ({"crop", "affine"}, {"crop", "affine"}, False),
    "color": ({"crop", "color"}, {"crop", "color"}, False),
    "clahe": ({"crop", "clahe"}, {"crop"}, False),
    "erasing": ({"crop", "erasing"}, {"crop"}, False),
    "mixup": ({"crop"}, {"crop"}, True),
    "full": (
        {"crop", "clahe", "flip", "affine", "color", "erasing"},
        {"crop", "flip", "affine", "color"},
        False,
    ),
    "full_mixup": (
        {"crop", "clahe", "flip", "affine", "color", "erasing"},
        {"crop", "flip", "affine", "color"},
        True,
    ),
}


def recipe_config(name: str, overrides: tuple[str, ...] = ()) -> Any:
    """``conf/augmentation/<name>.yaml`` composed on its own (the training size supplied)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name=f"augmentation/{name}",
            overrides=[f"+data.image_size={SIZE}", *overrides],
        )
    GlobalHydra.instance().clear()
    return cfg.augmentation


def build(name: str, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    return hydra.utils.instantiate(recipe_config(name, overrides), _convert_="all")


def _images(folder: Path, count: int, seed: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        h, w = int(rng.integers(32, 60)), int(rng.integers(32, 60))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        image[: h // 2] //= 4  # dark and bright regions
        paths.append(folder / f"{index}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def test_every_recipe_has_expectations() -> None:
    assert set(RECIPES) == set(EXPECTED_STEPS)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_steps_and_name(name: str) -> None:
    cfg = recipe_config(name)
    photo, anime, mixup = EXPECTED_STEPS[name]
    assert cfg.name == name
    assert {k for k, v in cfg.photo.steps.items() if v is not None} == photo
    assert {k for k, v in cfg.anime.steps.items() if v is not None} == anime
    assert (cfg.batch_transform is not None) == mixup
    assert dict(cfg.anime.additional_targets) == {
        "anime_gray": "image",
        "anime_smooth_gray": "image",
    }


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_yields_training_tensors(name: str, tmp_path: Path) -> None:
    recipe = build(name)
    assert isinstance(recipe["photo"], A.Compose) and isinstance(recipe["anime"], A.Compose)
    dataset = UnpairedPhotoAnimeDataset(
        _images(tmp_path / "photo", 3, 0),
        _images(tmp_path / "anime", 3, 1),
        SIZE,
        smooth_source=SmoothCache(tmp_path / "cache", SIZE).get,
        photo_transform=recipe["photo"],
        anime_transform=recipe["anime"],
    )
    dataset.reseed(0)
    samples = [dataset[(i % 3, (i + 1) % 3)] for i in range(6)]
    for sample in samples:
        assert sorted(sample) == ["anime", "anime_gray", "anime_smooth_gray", "photo"]
        for tensor in sample.values():
            assert tensor.shape == (3, SIZE, SIZE) and tensor.dtype == torch.float32
            assert tensor.min() >= -1.0 and tensor.max() <= 1.0
        for key in ("anime_gray", "anime_smooth_gray"):
            assert torch.equal(sample[key][0], sample[key][1])
            assert torch.equal(sample[key][0], sample[key][2])
    batch = torch.utils.data.default_collate(samples)
    if recipe["batch_transform"] is not None:
        batch = recipe["batch_transform"](batch)
    for tensor in batch.values():
        assert tensor.shape == (6, 3, SIZE, SIZE) and tensor.dtype == torch.float32
        assert tensor.min() >= -1.0 and tensor.max() <= 1.0


def test_full_recipe_parameters_match_the_study_definition() -> None:
    recipe = build("full_mixup")
    by_name = {type(t).__name__: t for t in recipe["photo"].transforms}
    assert list(by_name) == [
        "RandomCrop",
        "LowLightCLAHE",
        "HorizontalFlip",
        "Affine",
        "ColorJitter",
        "Erasing",
    ]
    affine = by_name["Affine"]
    assert affine.rotate == (-5.0, 5.0)
    assert affine.translate_percent == {"x": (-0.05, 0.05), "y": (-0.05, 0.05)}
    assert affine.scale == {"x": (0.95, 1.05), "y": (0.95, 1.05)}
    assert affine.shear == {"x": (-2.0, 2.0), "y": (-2.0, 2.0)}
    jitter = by_name["ColorJitter"]
    assert jitter.brightness == jitter.contrast == jitter.saturation == (0.7, 1.3)
    assert jitter.hue == (-0.05, 0.05)
    clahe = by_name["LowLightCLAHE"]
    assert isinstance(clahe, LowLightCLAHE)
    assert (clahe.clip_limit, clahe.tile_grid_size, clahe.luma_threshold) == (2.0, (8, 8), 0.3)
    erasing = by_name["Erasing"]
    assert erasing.p == 0.1 and tuple(erasing.scale) == (0.02, 0.1)
    mixup = recipe["batch_transform"]
    assert isinstance(mixup, StyleMixup) and mixup.alpha == 0.2
    anime = [type(t).__name__ for t in recipe["anime"].transforms]
    assert anime == ["RandomCrop", "HorizontalFlip", "Affine", "ColorJitter"]


def test_mistyped_recipe_argument_stops_instantiation() -> None:
    with pytest.raises(InstantiationException, match="rotat.*did you mean 'rotate'"):
        build("full", ("+augmentation.photo.steps.affine.rotat=[-5,5]",))
    with pytest.raises(InstantiationException, match="fixed rotate"):
        build("full", ("augmentation.photo.steps.affine.rotate=5",))


def test_a_step_can_be_switched_off_from_the_command_line() -> None:
    recipe = build("full", ("augmentation.photo.steps.affine=null",))
    assert "Affine" not in [type(t).__name__ for t in recipe["photo"].transforms]


def test_clahe_recipe_touches_only_dark_photos() -> None:
    photo = build("clahe")["photo"]
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 50, (SIZE, SIZE, 3), dtype=np.uint8)
    bright = rng.integers(100, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    assert not np.array_equal(photo(image=dark)["image"], dark)
    np.testing.assert_array_equal(photo(image=bright)["image"], bright)


# ---------------------------------------------------------------- training config
@pytest.mark.parametrize("name", ["none", "full_mixup"])
def test_recipe_reaches_the_datamodule_and_the_run_config(
    name: str, compose_train, tmp_path: Path
) -> None:
    cfg = compose_train([f"augmentation={name}", "data.image_size=32"], tmp_path)
    run_config = OmegaConf.to_container(cfg, resolve=True)
    # What the CLI writes to config_resolved.yaml and gives logger.log_hyperparams.
    assert run_config["augmentation"]["name"] == name
    assert run_config["data"]["photo_transform"] == run_config["augmentation"]["photo"]
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    assert isinstance(datamodule.photo_transform, A.Compose)
    assert (datamodule.batch_transform is not None) == (name == "full_mixup")


def test_unknown_recipe_is_an_error(compose_train, tmp_path: Path) -> None:
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        compose_train(["augmentation=fulll"], tmp_path)


# ---------------------------------------------------------------- study and launchers
def _hydra_config(overrides: list[str]) -> Any:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg


def test_study_experiments_define_arms_seeds_budget_and_metric() -> None:
    tiny = _hydra_config(["experiment=augmentation_ablation"])
    gpu = _hydra_config(["experiment=augmentation_ablation_gpu"])
    for cfg in (tiny, gpu):
        settings = StudySettings(**{**cfg.study, "metrics": tuple(cfg.study.metrics)})
        assert settings.decisive_metric in settings.metrics and settings.mode == "min"
        assert cfg.hydra.mode.name == "MULTIRUN"
        assert set(str(cfg.hydra.sweeper.params.augmentation).split(",")) == {
            "none",
            "basic",
            "full",
        }
        assert len(str(cfg.hydra.sweeper.params.seed).split(",")) == 3
    assert tiny.trainer.accelerator == "cpu" and tiny.data.builtin
    assert gpu.trainer.accelerator == "gpu" and gpu.data.style == "Hayao"
    assert (gpu.data.image_size, gpu.module.init_epochs, gpu.trainer.max_epochs) == (256, 10, 101)


# Our launcher files share their names with the plugins' schemas, so Hydra validates them against
# those schemas (catching typos in launcher keys) and notes that this matching is deprecated.
@pytest.mark.filterwarnings(r"ignore:\s*'hydra/launcher/:UserWarning")
@pytest.mark.parametrize("launcher", ["joblib", "submitit_slurm"])
def test_launcher_configs_build(launcher: str) -> None:
    cfg = _hydra_config(["experiment=augmentation_ablation", f"hydra/launcher={launcher}"])
    spec = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    target = spec.pop("_target_")
    module_name, class_name = target.rsplit(".", 1)
    cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    assert cls.__name__ in {"JoblibLauncher", "SlurmLauncher"}
    if launcher == "submitit_slurm":
        assert cfg.hydra.launcher.gpus_per_node == 1 and "partition" in cfg.hydra.launcher
        assert str(cfg.hydra.launcher.submitit_folder).endswith(".submitit/%j")
    cls(**spec)  # constructing submits nothing
