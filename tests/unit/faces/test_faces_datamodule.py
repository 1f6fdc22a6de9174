"""FaceAnimeDataModule refuses photo recipes that move pixels, judged by transform type."""

from __future__ import annotations

from pathlib import Path

import albumentations as A
import hydra
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from animegan.data.augmentation import LowLightCLAHE, build_pipeline, moving_steps
from animegan.faces.datamodule import FaceAnimeDataModule

CONF_DIR = Path(__file__).resolve().parents[3] / "conf"
SIZE = 32
# Shipped recipes whose photo side flips or warps (refused before and after the type check).
MOVING_RECIPES = {"affine", "basic", "full", "full_mixup"}


def _photo_pipeline(recipe: str) -> A.Compose:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=f"augmentation/{recipe}", overrides=[f"+data.image_size={SIZE}"])
    GlobalHydra.instance().clear()
    return hydra.utils.instantiate(cfg.augmentation.photo)


@pytest.mark.parametrize(
    "recipe", sorted(path.stem for path in (CONF_DIR / "augmentation").glob("*.yaml"))
)
def test_shipped_recipes_keep_their_verdict(tmp_path: Path, recipe: str) -> None:
    photo = _photo_pipeline(recipe)
    if recipe in MOVING_RECIPES:
        with pytest.raises(ValueError, match="misplace the cached face landmarks"):
            FaceAnimeDataModule(root=tmp_path, image_size=SIZE, photo_transform=photo)
    else:
        dm = FaceAnimeDataModule(root=tmp_path, image_size=SIZE, photo_transform=photo)
        assert dm.photo_transform is photo


def test_moving_steps_judges_by_type_not_name() -> None:
    in_place = build_pipeline(
        {
            "crop": A.RandomCrop(SIZE, SIZE),
            "clahe": LowLightCLAHE(),
            "color": A.ColorJitter(),
            "erasing": A.Erasing(),
            "dropout": A.CoarseDropout(),
        }
    )
    assert moving_steps(in_place) == []
    assert moving_steps(None) == []
    nested = A.Compose(
        [A.RandomCrop(SIZE, SIZE), A.OneOf([A.Transpose(), A.GridDistortion()]), A.Affine()]
    )
    # Transpose and GridDistortion have none of the names the old repr search looked for.
    assert moving_steps(nested) == ["Transpose", "GridDistortion", "Affine"]


def test_plain_callables_declare_whether_they_move_pixels(tmp_path: Path) -> None:
    class Mirror:
        moves_pixels = True

        def __call__(self, **data: object) -> dict[str, object]:
            return data

    class Tint:
        def __call__(self, **data: object) -> dict[str, object]:
            return data

    with pytest.raises(ValueError, match=r"moves pixels \(Mirror\)"):
        FaceAnimeDataModule(root=tmp_path, image_size=SIZE, photo_transform=Mirror())
    FaceAnimeDataModule(root=tmp_path, image_size=SIZE, photo_transform=Tint())
