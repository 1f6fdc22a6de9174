"""Augmentation building blocks: strict pipelines, low-light CLAHE, style mixup, seeding, alignment."""

from __future__ import annotations

import warnings
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from animegan.data.augmentation import (
    LowLightCLAHE,
    StyleMixup,
    build_pipeline,
    check_transform,
    describe_transform,
    mean_luma,
    seed_transform,
)
from animegan.data.datamodule import AnimeGANDataModule
from animegan.data.datasets import ANIME_TARGETS, UnpairedPhotoAnimeDataset, gray_to_tensor
from animegan.data.smoothing import resize_shorter_side

SIZE = 16


def _quiet(factory, **kwargs):
    # albumentations warns about unknown arguments before our check raises; keep output clean.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return factory(**kwargs)


def _gradient(h: int, w: int, low: int, high: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(low, high, w, dtype=np.float32)[None, :, None]
    image = ramp + rng.normal(0, 3, (h, w, 3)) + np.array([0, 10, -10])[None, None]
    return np.clip(image, 0, 255).astype(np.uint8)


def _to_uint8(tensor: torch.Tensor) -> np.ndarray:
    return np.rint((tensor.permute(1, 2, 0).numpy() + 1.0) * 127.5).astype(np.uint8)


# ---------------------------------------------------------------- strict pipelines
def test_build_pipeline_skips_null_steps_and_keeps_order() -> None:
    crop = A.CenterCrop(4, 4)
    flip = A.HorizontalFlip(p=1.0)
    pipeline = build_pipeline({"crop": crop, "affine": None, "flip": flip})
    assert [type(t).__name__ for t in pipeline.transforms] == ["CenterCrop", "HorizontalFlip"]
    image = np.arange(6 * 6 * 3, dtype=np.uint8).reshape(6, 6, 3)
    np.testing.assert_array_equal(pipeline(image=image)["image"], image[1:5, 1:5][:, ::-1])


def test_mistyped_argument_raises_and_suggests_the_name() -> None:
    flip = _quiet(A.HorizontalFlip, prob=1.0)  # albumentations alone: a warning, p stays 0.5
    assert flip.p == 0.5
    with pytest.raises(ValueError, match=r"step 'flip'.*'prob' \(did you mean 'p'\?\)"):
        build_pipeline({"flip": flip})
    clahe = _quiet(LowLightCLAHE, clip_limt=2.0)
    with pytest.raises(ValueError, match="did you mean 'clip_limit'"):
        check_transform(clahe)


def test_mistyped_argument_inside_a_nested_compose_raises() -> None:
    bad = _quiet(A.ColorJitter, brightnes=0.2)
    nested = A.Compose([A.OneOf([A.NoOp(), bad])])
    with pytest.raises(ValueError, match="ColorJitter.*'brightnes'"):
        check_transform(nested, "photo")
    check_transform(lambda **kw: kw)  # non-albumentations callables are the caller's business


@pytest.mark.parametrize(
    "kwargs",
    [{"rotate": 5}, {"shear": 2}, {"translate_percent": 0.05}, {"scale": 1.05}],
)
def test_affine_single_number_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="fixed"):
        build_pipeline({"affine": A.Affine(**kwargs)})


def test_affine_ranges_and_identity_values_are_accepted() -> None:
    build_pipeline(
        {
            "affine": A.Affine(
                rotate=(-5, 5), translate_percent=(-0.05, 0.05), scale=(0.95, 1.05), shear=0
            )
        }
    )


def test_pipeline_rejects_unknown_keys_and_non_transforms() -> None:
    pipeline = build_pipeline({"flip": A.HorizontalFlip()}, additional_targets=ANIME_TARGETS)
    image = np.zeros((4, 4, 3), np.uint8)
    pipeline(image=image, anime_gray=image, anime_smooth_gray=image)
    with pytest.raises(ValueError, match="anime_grey"):
        pipeline(image=image, anime_grey=image)  # strict=True: a typo in a key is an error
    with pytest.raises(TypeError, match="step 'bad'"):
        build_pipeline({"bad": lambda **kw: kw})
    with pytest.raises(ValueError, match="at least one step"):
        build_pipeline({"crop": None})


# ---------------------------------------------------------------- low-light CLAHE
def test_mean_luma_matches_hand_computed_value() -> None:
    image = np.full((3, 5, 3), (50, 60, 70), np.uint8)
    # 0.299 * 50 + 0.587 * 60 + 0.114 * 70 = 58.15
    assert mean_luma(image) == pytest.approx(58.15 / 255, abs=1e-6)


def test_clahe_only_on_dark_photos() -> None:
    dark = _gradient(32, 32, 10, 60)  # mean luma about 35/255 = 0.14
    bright = _gradient(32, 32, 120, 220)  # about 0.67
    transform = A.Compose(
        [LowLightCLAHE(clip_limit=2.0, tile_grid_size=(4, 4), luma_threshold=0.3)]
    )
    equalized = transform(image=dark)["image"]
    assert (equalized != dark).mean() > 0.5
    assert mean_luma(equalized) > mean_luma(dark)  # dark photos are lifted
    np.testing.assert_array_equal(transform(image=bright)["image"], bright)
    # The threshold is strict and in [0, 1]: the same dark photo passes untouched below it.
    low = A.Compose([LowLightCLAHE(luma_threshold=0.1)])
    np.testing.assert_array_equal(low(image=dark)["image"], dark)


def test_clahe_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="luma_threshold"):
        LowLightCLAHE(luma_threshold=80)  # a 0..255 value where a fraction is expected
    with pytest.raises(ValueError, match="clip_limit"):
        LowLightCLAHE(clip_limit=0)


# ---------------------------------------------------------------- style mixup
def _constant_batch(values: list[float], offset: float) -> torch.Tensor:
    return torch.tensor(values).view(-1, 1, 1, 1).expand(-1, 3, 2, 2) + offset


def test_style_mixup_blends_each_sample_with_its_predecessor_by_one_weight() -> None:
    torch.manual_seed(0)
    anime = [-0.9, 0.1, 0.8, -0.3]
    batch = {
        "photo": torch.zeros(4, 3, 2, 2),
        "anime": _constant_batch(anime, 0.0),
        "anime_gray": _constant_batch(anime, 0.05),
        "anime_smooth_gray": _constant_batch(anime, -0.05),
    }
    out = StyleMixup(alpha=0.2)(batch)
    assert torch.equal(out["photo"], batch["photo"])
    for i in range(4):
        a_i, a_prev = anime[i], anime[i - 1]  # partner is the previous sample, cyclically
        lam = (out["anime"][i, 0, 0, 0].item() - a_prev) / (a_i - a_prev)
        assert 0.0 <= lam <= 1.0
        for key, offset in (("anime_gray", 0.05), ("anime_smooth_gray", -0.05)):
            expected = lam * (a_i + offset) + (1 - lam) * (a_prev + offset)
            torch.testing.assert_close(
                out[key][i], torch.full((3, 2, 2), expected), atol=1e-5, rtol=0
            )


def test_style_mixup_weights_follow_beta_02() -> None:
    torch.manual_seed(1)
    lam = StyleMixup(alpha=0.2).sample_weights(4000)
    assert lam.min() >= 0 and lam.max() <= 1
    # Beta(0.2, 0.2) is U-shaped: P(0.1 < lam < 0.9) = 1 - 2 * I_0.1(0.2, 0.2) = 0.327
    # (a uniform weight would give 0.8), and its mean is 0.5 by symmetry.
    middle = ((lam > 0.1) & (lam < 0.9)).float().mean().item()
    assert middle == pytest.approx(0.327, abs=0.03)
    assert lam.mean().item() == pytest.approx(0.5, abs=0.03)


def test_style_mixup_p_zero_is_identity_and_arguments_are_checked() -> None:
    batch = {"anime": torch.randn(3, 3, 2, 2), "anime_gray": torch.randn(3, 3, 2, 2)}
    out = StyleMixup(p=0.0, keys=("anime", "anime_gray"))(batch)
    assert all(torch.equal(out[k], batch[k]) for k in batch)
    with pytest.raises(ValueError):
        StyleMixup(alpha=0)
    with pytest.raises(ValueError):
        StyleMixup(p=1.5)


# ---------------------------------------------------------------- seeding
def _flip_outcomes(pipeline: A.Compose, n: int) -> list[tuple[bool, bool]]:
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    out = []
    for _ in range(n):
        result = pipeline(image=image)["image"]
        horizontal = np.array_equal(result, image[:, ::-1]) or np.array_equal(
            result, image[::-1, ::-1]
        )
        vertical = np.array_equal(result, image[::-1]) or np.array_equal(result, image[::-1, ::-1])
        out.append((horizontal, vertical))
    return out


def test_seed_transform_gives_independent_reproducible_draws() -> None:
    pipeline = A.Compose([A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)])
    # albumentations' own set_random_seed seeds both children alike: they always fire together.
    pipeline.set_random_seed(3)
    assert {h == v for h, v in _flip_outcomes(pipeline, 40)} == {True}
    seed_transform(pipeline, 3)
    first = _flip_outcomes(pipeline, 40)
    assert len(set(first)) == 4  # all four combinations occur
    seed_transform(pipeline, 3)
    assert _flip_outcomes(pipeline, 40) == first


def test_describe_transform_is_plain_yaml() -> None:
    pipeline = build_pipeline(
        {"affine": A.Affine(rotate=(-5, 5)), "clahe": LowLightCLAHE(tile_grid_size=(4, 4))},
        additional_targets=ANIME_TARGETS,
    )
    description = describe_transform(pipeline)
    text = yaml.safe_dump(description)  # tuples would make safe_dump fail
    assert "Affine" in text and "LowLightCLAHE" in text
    affine, clahe = description["transforms"]
    assert affine["rotate"] == [-5.0, 5.0] and clahe["tile_grid_size"] == [4, 4]
    assert description["additional_targets"] == ANIME_TARGETS
    assert describe_transform(None) is None


# ---------------------------------------------------------------- dataset integration
def _write(folder: Path, images: list[np.ndarray]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(images):
        paths.append(folder / f"{index:02d}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def _identity_smooth(size: int):
    # The "smoothed" image is the anime image itself, so after a shared geometric transform the
    # smoothed gray must equal the gray of the transformed anime image.
    from animegan.data.decode import read_image_rgb

    return lambda path: resize_shorter_side(read_image_rgb(path, size), size)


@pytest.mark.parametrize("interpolation", [cv2.INTER_NEAREST, cv2.INTER_LINEAR])
def test_anime_gray_and_smooth_stay_aligned_under_flip_and_affine(
    tmp_path: Path, interpolation: int
) -> None:
    anime = _write(tmp_path / "anime", [_gradient(20, 29, 0, 255, seed=s) for s in range(2)])
    photos = _write(tmp_path / "photo", [_gradient(16, 16, 50, 90)])
    geometry = build_pipeline(
        {
            "crop": A.RandomCrop(SIZE, SIZE),
            "flip": A.HorizontalFlip(p=0.5),
            "affine": A.Affine(
                rotate=(-20, 20),
                translate_percent=(-0.1, 0.1),
                scale=(0.9, 1.1),
                shear=(-5, 5),
                interpolation=interpolation,
                border_mode=cv2.BORDER_REFLECT_101,
                p=1.0,
            ),
        },
        additional_targets=ANIME_TARGETS,
    )
    dataset = UnpairedPhotoAnimeDataset(
        photos, anime, SIZE, smooth_source=_identity_smooth(SIZE), anime_transform=geometry
    )
    dataset.reseed(0)
    tolerance = 0 if interpolation == cv2.INTER_NEAREST else 1  # luma/warp rounding: 1 level
    for step in range(12):
        item = dataset[(0, step % 2)]
        gray = _to_uint8(item["anime_gray"]).astype(int)
        smooth = _to_uint8(item["anime_smooth_gray"]).astype(int)
        luma = cv2.cvtColor(_to_uint8(item["anime"]), cv2.COLOR_RGB2GRAY).astype(int)
        np.testing.assert_array_equal(gray[..., 0], luma)
        assert np.abs(smooth - gray).max() <= tolerance, f"misaligned at step {step}"


def test_colour_jitter_never_tints_the_gray_targets(tmp_path: Path) -> None:
    anime = _write(tmp_path / "anime", [_gradient(16, 24, 0, 255)])
    photos = _write(tmp_path / "photo", [_gradient(16, 16, 50, 90)])
    colour = build_pipeline(
        {
            "crop": A.RandomCrop(SIZE, SIZE),
            "color": A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.2, p=1),
            "sepia": A.ToSepia(p=1.0),  # turns even a gray image brown
        },
        additional_targets=ANIME_TARGETS,
    )
    dataset = UnpairedPhotoAnimeDataset(
        photos, anime, SIZE, smooth_source=_identity_smooth(SIZE), anime_transform=colour
    )
    for _ in range(4):
        item = dataset[(0, 0)]
        for key in ("anime_gray", "anime_smooth_gray"):
            channels = item[key]
            assert torch.equal(channels[0], channels[1]) and torch.equal(channels[0], channels[2])
        luma = cv2.cvtColor(_to_uint8(item["anime"]), cv2.COLOR_RGB2GRAY)
        torch.testing.assert_close(item["anime_gray"], gray_to_tensor(luma), rtol=0, atol=0)


def _datamodule(tmp_path: Path, **kwargs: object) -> AnimeGANDataModule:
    root = tmp_path / "data"
    _write(root / "photo", [_gradient(20, 26, 40, 200, seed=s) for s in range(4)])
    _write(root / "anime", [_gradient(18, 18, 0, 255, seed=10 + s) for s in range(3)])
    _write(root / "val", [_gradient(24, 18, 30, 220, seed=20 + s) for s in range(2)])
    return AnimeGANDataModule(
        root=root,
        image_size=SIZE,
        batch_size=2,
        num_val_images=2,
        cache_dir=tmp_path / "cache",
        **kwargs,
    )


def test_validation_is_never_augmented(tmp_path: Path) -> None:
    heavy = build_pipeline(
        {
            "crop": A.RandomCrop(SIZE, SIZE),
            "flip": A.HorizontalFlip(p=1.0),
            "color": A.ColorJitter(p=1.0),
            "erase": A.Erasing(p=1.0),
        }
    )
    recorded: list[dict] = []
    dm = _datamodule(
        tmp_path,
        photo_transform=heavy,
        batch_transform=lambda batch: recorded.append(batch) or batch,
    )
    dm.setup("fit")
    for index, path in enumerate(dm.val_photos):
        resized = resize_shorter_side(np.asarray(Image.open(path).convert("RGB")), SIZE)
        top = (resized.shape[0] - SIZE) // 2
        expected = resized[top : top + SIZE]
        np.testing.assert_array_equal(_to_uint8(dm.val_dataset[index]["photo"]), expected)
    list(dm.val_dataloader())
    assert not recorded  # the batch step is for training batches only
    next(iter(dm.train_dataloader()))
    assert len(recorded) == 1


def test_datamodule_refuses_mistyped_transforms_at_construction(tmp_path: Path) -> None:
    bad = A.Compose([A.RandomCrop(SIZE, SIZE), _quiet(A.HorizontalFlip, probability=0.5)])
    with pytest.raises(ValueError, match="photo_transform.*'probability'"):
        AnimeGANDataModule(root=tmp_path, photo_transform=bad)
    with pytest.raises(ValueError, match="anime_transform"):
        AnimeGANDataModule(root=tmp_path, anime_transform=bad)


def test_describe_records_the_augmentation_in_force(tmp_path: Path) -> None:
    dm = _datamodule(tmp_path, batch_transform=StyleMixup(alpha=0.4))
    info = dm.describe()["augmentation"]
    yaml.safe_dump(info)
    assert info["photo"]["transforms"][0]["__class_fullname__"] == "RandomCrop"
    assert "StyleMixup(alpha=0.4" in info["batch"]
