from __future__ import annotations

from pathlib import Path

import albumentations as A
import numpy as np
import pytest
import torch
from PIL import Image

from animegan.data.datasets import (
    SAMPLE_SEED_KEY,
    PhotoDataset,
    UnpairedPhotoAnimeDataset,
    default_train_transform,
    image_to_tensor,
)
from animegan.data.decode import read_image_rgb
from animegan.data.sampler import UnpairedIndex, UnpairedSampler
from animegan.data.smoothing import SmoothCache, edge_smooth, resize_shorter_side, to_gray3

SIZE = 16


def _textured(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 3] = (220, 30, 60)
    image[h // 2 :, w // 3 :] = (20, 180, 230)
    noise = rng.integers(0, 40, (h, w, 3))
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _files(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (h, w) in enumerate(sizes):
        paths.append(folder / f"{i:02d}.png")
        Image.fromarray(_textured(h, w, seed + i)).save(paths[-1])
    return paths


def _to_uint8(tensor: torch.Tensor) -> np.ndarray:
    return np.rint((tensor.permute(1, 2, 0).numpy() + 1.0) * 127.5).astype(np.uint8)


def _dataset(tmp_path: Path, **kwargs: object) -> UnpairedPhotoAnimeDataset:
    photos = _files(tmp_path / "photo", [(20, 37), (41, 17), (16, 16)])
    anime = _files(tmp_path / "anime", [(16, 40), (30, 22)], seed=10)
    cache = SmoothCache(tmp_path / "cache", SIZE)
    return UnpairedPhotoAnimeDataset(photos, anime, SIZE, smooth_source=cache.get, **kwargs)


def test_image_to_tensor_range() -> None:
    image = np.array([[[0, 255, 51]]], np.uint8)
    tensor = image_to_tensor(image)
    assert tensor.dtype == torch.float32 and tensor.shape == (3, 1, 1)
    assert tensor.is_contiguous()
    torch.testing.assert_close(tensor.flatten(), torch.tensor([-1.0, 1.0, 51 / 127.5 - 1]))
    with pytest.raises(TypeError):
        image_to_tensor(image.astype(np.float32))


def test_unpaired_item_shapes_and_range(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path)
    for photo_index in range(3):
        for anime_index in range(2):
            item = dataset[(photo_index, anime_index)]
            assert sorted(item) == ["anime", "anime_gray", "anime_smooth_gray", "photo"]
            for tensor in item.values():
                assert tensor.shape == (3, SIZE, SIZE)
                assert tensor.dtype == torch.float32
                assert tensor.min() >= -1.0 and tensor.max() <= 1.0


def _crop_offset(resized: np.ndarray, crop: np.ndarray) -> tuple[int, int]:
    h, w = crop.shape[:2]
    for top in range(resized.shape[0] - h + 1):
        for left in range(resized.shape[1] - w + 1):
            if np.array_equal(resized[top : top + h, left : left + w], crop):
                return top, left
    raise AssertionError("crop not found in the resized image")


@pytest.mark.parametrize("large_jpeg", [False, True])
def test_anime_gray_and_smooth_are_aligned_under_random_crop(
    tmp_path: Path, large_jpeg: bool
) -> None:
    dataset = _dataset(tmp_path)
    if large_jpeg:  # decoded at reduced DCT scale: the smooth cache must decode it the same way
        anime_path = tmp_path / "anime" / "big.jpg"
        Image.fromarray(_textured(96, 200, 7)).save(anime_path, quality=90)
        dataset.anime_paths[0] = anime_path
    else:
        anime_path = dataset.anime_paths[0]  # 16x40: only a horizontal offset is random
    resized = resize_shorter_side(read_image_rgb(anime_path, SIZE), SIZE)
    smooth_gray_full = to_gray3(edge_smooth(resized))
    offsets = set()
    for _ in range(8):
        item = dataset[(0, 0)]
        anime = _to_uint8(item["anime"])
        np.testing.assert_array_equal(_to_uint8(item["anime_gray"]), to_gray3(anime))
        top, left = _crop_offset(resized, anime)
        offsets.add(left)
        np.testing.assert_array_equal(
            _to_uint8(item["anime_smooth_gray"]),
            smooth_gray_full[top : top + SIZE, left : left + SIZE],
        )
    assert len(offsets) > 1  # the crop really is random


def test_user_compose_without_targets_gets_them(tmp_path: Path) -> None:
    user = A.Compose([A.HorizontalFlip(p=1.0), A.RandomCrop(SIZE, SIZE)])
    dataset = _dataset(tmp_path, anime_transform=user)
    for _ in range(4):
        item = dataset[(0, 1)]
        np.testing.assert_array_equal(
            _to_uint8(item["anime_gray"]), to_gray3(_to_uint8(item["anime"]))
        )
    assert "anime_gray" not in user.additional_targets  # the caller's object is not modified


def test_bare_transform_is_wrapped(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path, anime_transform=A.RandomCrop(SIZE, SIZE))
    for _ in range(4):
        item = dataset[(0, 0)]
        np.testing.assert_array_equal(
            _to_uint8(item["anime_gray"]), to_gray3(_to_uint8(item["anime"]))
        )


def test_transform_with_wrong_size_is_reported(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path, photo_transform=A.Compose([A.NoOp()]))
    with pytest.raises(ValueError, match="expected 16x16"):
        dataset[(0, 0)]  # photo 0 is 20x37 -> 16x30 after resize, not cropped


def test_reseed_makes_crops_reproducible(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path)
    dataset.reseed(5)
    first = [dataset[(0, 0)]["anime"] for _ in range(4)]
    dataset.reseed(5)
    again = [dataset[(0, 0)]["anime"] for _ in range(4)]
    dataset.reseed(6)
    other = [dataset[(0, 0)]["anime"] for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_default_train_transform_passes_square_input() -> None:
    image = _textured(SIZE, SIZE, 0)
    out = default_train_transform(SIZE)(image=image)["image"]
    np.testing.assert_array_equal(out, image)


def test_photo_dataset_center_crops(tmp_path: Path) -> None:
    (path,) = _files(tmp_path / "val", [(16, 40)])
    dataset = PhotoDataset([path], SIZE)
    item = dataset[0]
    assert item["index"] == 0
    assert item["photo"].shape == (3, SIZE, SIZE)
    resized = resize_shorter_side(np.asarray(Image.open(path).convert("RGB")), SIZE)
    left = (resized.shape[1] - SIZE) // 2  # 40 -> 16: 16x40, center offset 12
    np.testing.assert_array_equal(_to_uint8(item["photo"]), resized[:, left : left + SIZE])
    assert torch.equal(dataset[0]["photo"], item["photo"])  # no augmentation


def _flat_smooth_source(levels: dict[str, int]) -> object:
    """Smooth source whose image of anime file ``name`` is flat at gray level ``levels[name]``:
    the level of a smoothed sample tells which anime image it came from."""

    def source(path: Path) -> np.ndarray:
        return np.full((SIZE, SIZE + 7, 3), levels[Path(path).name], np.uint8)

    return source


def _smooth_dataset(tmp_path: Path, **kwargs: object) -> tuple[UnpairedPhotoAnimeDataset, dict]:
    photos = _files(tmp_path / "photo", [(20, 37), (41, 17)])
    anime = _files(tmp_path / "anime", [(16, 40), (30, 22), (18, 18), (25, 16), (16, 20)], 10)
    levels = {path.name: 20 + 40 * i for i, path in enumerate(anime)}
    dataset = UnpairedPhotoAnimeDataset(
        photos, anime, SIZE, smooth_source=_flat_smooth_source(levels), **kwargs
    )
    return dataset, levels


def _smooth_level(sample: dict[str, torch.Tensor]) -> int:
    values = torch.unique(sample["anime_smooth_gray"])
    assert values.numel() == 1, "a flat smoothed image stays flat under crops and flips"
    return int(round((float(values[0]) + 1.0) * 127.5))


@pytest.mark.parametrize("pairing", ["independent", "same"])
def test_smoothed_sample_follows_the_pairing(tmp_path: Path, pairing: str) -> None:
    flip = A.Compose([A.RandomCrop(SIZE, SIZE), A.HorizontalFlip(p=0.5)])
    dataset, levels = _smooth_dataset(tmp_path, anime_transform=flip)
    level_of = [levels[path.name] for path in dataset.anime_paths]
    sampler = UnpairedSampler(2, 5, seed=9, smooth_pairing=pairing, epoch_length=20)
    indices = list(sampler)
    for index in indices:
        assert _smooth_level(dataset[index]) == level_of[index.smooth]
    if pairing == "same":
        assert all(index.smooth == index.anime for index in indices)
    else:
        # In general another anime image than the one beside it (4 in 5 by chance).
        assert sum(index.smooth != index.anime for index in indices) >= 10


def test_seeded_samples_are_a_function_of_the_index(tmp_path: Path) -> None:
    jitter = A.Compose([A.RandomCrop(SIZE, SIZE), A.HorizontalFlip(p=0.5), A.ColorJitter(p=0.5)])
    first = _dataset(tmp_path / "a", photo_transform=jitter, anime_transform=jitter)
    second = _dataset(tmp_path / "b", photo_transform=jitter, anime_transform=jitter)
    indices = list(UnpairedSampler(3, 2, seed=1, epoch_length=12))
    samples = [first[index] for index in indices]
    # Another dataset object, the indices in reverse order and unseeded draws in between (what a
    # resumed run or another worker does): the same samples.
    second.reseed(123)
    second[(0, 0)]
    again = [second[index] for index in reversed(indices)][::-1]
    for sample, other in zip(samples, again, strict=True):
        assert sample.keys() == other.keys()
        for key in sample:
            assert torch.equal(sample[key], other[key]), key
    # The seed, not the image indices alone, decides the draws: other seeds, other crops.
    photo, anime, smooth, _ = indices[0]
    reseeded = [first[UnpairedIndex(photo, anime, smooth, seed)]["photo"] for seed in range(8)]
    assert len({tuple(p.flatten().tolist()) for p in reseeded}) > 1
    assert int(samples[0][SAMPLE_SEED_KEY]) == indices[0].seed
