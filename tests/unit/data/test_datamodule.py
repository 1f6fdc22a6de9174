from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from PIL import Image

from animegan.data.datamodule import AnimeGANDataModule
from animegan.data.decode import DatasetNotFoundError
from animegan.data.loaders import ResumableDataLoader
from animegan.data.sampler import UnpairedSampler

SIZE = 16
SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def _image(path: Path, h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, format="PNG")


def _plain_root(root: Path) -> Path:
    for i, (h, w) in enumerate([(20, 30), (18, 18), (40, 17), (16, 25), (22, 22), (30, 19)]):
        _image(root / "photo" / f"p{i}.png", h, w, i)
    (root / "photo" / "zz_corrupt.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    for i, (h, w) in enumerate([(17, 33), (24, 16), (16, 16), (50, 20)]):
        _image(root / "anime" / f"a{i}.jpg", h, w, 100 + i)  # PNG bytes, .jpg name
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def test_plain_folder_batches_and_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _plain_root(tmp_path / "data")
    before = _snapshot(root)
    dm = AnimeGANDataModule(
        root=root, image_size=SIZE, batch_size=4, num_val_images=2, cache_dir=tmp_path / "cache"
    )
    with caplog.at_level(logging.WARNING):
        dm.prepare_data()
        dm.setup("fit")
        dm.setup("validate")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "zz_corrupt.jpg" in warnings[0].getMessage()

    batches = list(dm.train_dataloader())
    assert len(batches) == 1  # 6 pairs per epoch, batch 4, incomplete batch dropped
    batch = batches[0]
    assert sorted(batch) == ["anime", "anime_gray", "anime_smooth_gray", "photo"]
    for tensor in batch.values():
        assert tensor.shape == (4, 3, SIZE, SIZE) and tensor.dtype == torch.float32

    val = list(dm.val_dataloader())
    assert [b["index"].tolist() for b in val] == [[0, 1]]
    assert [p.name for p in dm.val_photos] == ["p4.png", "p5.png"]  # last N sorted photos

    info = dm.describe()
    assert info["layout"] == "plain"
    assert (info["num_photos"], info["num_anime"], info["num_skipped"]) == (6, 4, 1)
    assert info["num_val"] == 2 and info["num_test"] == 0

    fixed = dm.fixed_photos(5)
    assert fixed.shape == (2, 3, SIZE, SIZE)
    assert torch.equal(fixed, dm.fixed_photos(2))
    assert _snapshot(root) == before  # nothing written into the data folder
    assert list((tmp_path / "cache").rglob("*.png"))  # the smooth cache went here instead
    with pytest.raises(DatasetNotFoundError, match="test"):
        dm.test_dataloader()


def test_official_layout(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    for i in range(5):
        _image(root / "train_photo" / f"{i}.jpg", 20, 26, i)
    for i in range(3):
        _image(root / "Hayao" / "style" / f"{i}.jpg", 24, 16, 10 + i)
    _image(root / "Hayao" / "smooth" / "0.jpg", 16, 16, 99)
    for i in range(3):
        _image(root / "val" / f"v{i}.png", 16, 16, 20 + i)
    _image(root / "test" / "test_photo" / "t0.png", 18, 30, 30)
    _image(root / "test" / "HR_photo" / "big.png", 64, 64, 31)

    dm = AnimeGANDataModule(
        root=root,
        style="Hayao",
        image_size=SIZE,
        batch_size=2,
        num_val_images=2,
        cache_dir=tmp_path / "cache",
    )
    dm.prepare_data()
    dm.setup("fit")
    info = dm.describe()
    assert info["layout"] == "official"
    assert info["smooth_dir"] == str(root / "Hayao" / "smooth")
    assert (info["num_photos"], info["num_anime"], info["num_val"], info["num_test"]) == (
        5,
        3,
        2,
        1,
    )
    assert [p.name for p in dm.val_photos] == ["v0.png", "v1.png"]  # first N sorted val photos
    batch = next(iter(dm.train_dataloader()))
    assert batch["anime_smooth_gray"].shape == (2, 3, SIZE, SIZE)
    test_batch = next(iter(dm.test_dataloader()))
    assert test_batch["photo"].shape == (1, 3, SIZE, SIZE)
    # only the two style images without an official smooth file were computed
    assert len(list((tmp_path / "cache" / f"smooth_{SIZE}").glob("*.png"))) == 2


def test_missing_root_fails_early_with_path(tmp_path: Path) -> None:
    dm = AnimeGANDataModule(root=tmp_path / "absent", image_size=SIZE, cache_dir=tmp_path / "c")
    with pytest.raises(DatasetNotFoundError) as info:
        dm.setup("fit")
    assert str(tmp_path / "absent") in str(info.value)


def test_empty_anime_folder_fails_early(tmp_path: Path) -> None:
    root = _plain_root(tmp_path / "data")
    for path in (root / "anime").iterdir():
        path.unlink()
    dm = AnimeGANDataModule(root=root, image_size=SIZE, cache_dir=tmp_path / "c")
    with pytest.raises(DatasetNotFoundError, match="anime images") as info:
        dm.prepare_data()
    assert str(root / "anime") in str(info.value)


def test_batch_size_larger_than_epoch_is_reported(tmp_path: Path) -> None:
    root = _plain_root(tmp_path / "data")
    dm = AnimeGANDataModule(root=root, image_size=SIZE, batch_size=64, cache_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="batch_size=64"):
        dm.train_dataloader()


def test_refuses_lightning_distributed_sampler(tmp_path: Path) -> None:
    """With use_distributed_sampler=True on several devices Lightning rebuilds the training
    loader around its DistributedSamplerWrapper: that second sharding is refused."""
    root = _plain_root(tmp_path / "data")
    dm = AnimeGANDataModule(root=root, image_size=SIZE, batch_size=2, cache_dir=tmp_path / "c")
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, UnpairedSampler)
    wrapped = DistributedSamplerWrapper(loader.sampler, num_replicas=2, rank=0, shuffle=False)
    with pytest.raises(ValueError, match="use_distributed_sampler=False"):
        ResumableDataLoader(loader.dataset, sampler=wrapped, batch_size=2)


def test_builtin_quickstart(tmp_path: Path) -> None:
    dm = AnimeGANDataModule(
        root=tmp_path / "quickstart",
        image_size=SIZE,
        batch_size=8,
        builtin=True,
        cache_dir=tmp_path / "cache",
    )
    dm.prepare_data()
    dm.setup("fit")
    info = dm.describe()
    assert info["layout"] == "plain" and info["num_skipped"] == 0
    assert info["num_photos"] == 48 and info["num_anime"] == 48 and info["num_val"] == 8
    batch = next(iter(dm.train_dataloader()))
    assert batch["photo"].shape == (8, 3, SIZE, SIZE)


def test_builtin_does_not_touch_a_user_dataset(tmp_path: Path) -> None:
    root = _plain_root(tmp_path / "data")
    before = _snapshot(root)
    dm = AnimeGANDataModule(root=root, image_size=SIZE, builtin=True, cache_dir=tmp_path / "c")
    dm.prepare_data()
    dm.setup("fit")
    assert dm.describe()["num_photos"] == 6
    assert _snapshot(root) == before


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")
def test_selfie2anime_real_data(tmp_path: Path) -> None:
    root = SHARED_DATA / "selfie2anime" / "train"
    dm = AnimeGANDataModule(root=root, image_size=64, batch_size=4, cache_dir=tmp_path / "cache")
    dm.setup("fit")
    info = dm.describe()
    assert info["layout"] == "plain"
    assert info["num_photos"] == 600 and info["num_anime"] == 600  # PNG-as-.jpg anime decode
    batch = next(iter(dm.train_dataloader()))
    for tensor in batch.values():
        assert tensor.shape == (4, 3, 64, 64)
        assert -1.0 <= float(tensor.min()) and float(tensor.max()) <= 1.0
    gray = batch["anime_gray"]
    assert torch.equal(gray[:, 0], gray[:, 2])


def _aug_datamodule(root: Path, cache: Path, **kwargs: object) -> AnimeGANDataModule:
    import albumentations as A

    from animegan.data.augmentation import StyleMixup

    crop_flip = A.Compose([A.RandomCrop(SIZE, SIZE), A.HorizontalFlip(p=0.5), A.ColorJitter(p=0.5)])
    options: dict[str, object] = {
        "root": root,
        "image_size": SIZE,
        "batch_size": 2,
        "num_val_images": 2,
        "cache_dir": cache,
        "seed": 11,
        "photo_transform": crop_flip,
        "anime_transform": crop_flip,
        "batch_transform": StyleMixup(alpha=0.4),
    }
    options.update(kwargs)
    dm = AnimeGANDataModule(**options)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _epoch(loader: torch.utils.data.DataLoader, epoch: int) -> list[dict[str, torch.Tensor]]:
    loader.sampler.set_epoch(epoch)
    return list(loader)


def _assert_same_batches(actual: list[dict], expected: list[dict]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert sorted(got) == ["anime", "anime_gray", "anime_smooth_gray", "photo"]
        for key in want:
            assert torch.equal(got[key], want[key]), key


def test_batches_do_not_depend_on_workers_or_history(tmp_path: Path) -> None:
    """Crops, flips, jitter, mixup and the smooth stream are functions of (seed, epoch, index)."""
    root = _plain_root(tmp_path / "data")
    reference = _aug_datamodule(root, tmp_path / "cache").train_dataloader()
    epoch0, epoch1 = _epoch(reference, 0), _epoch(reference, 1)
    assert not all(torch.equal(a["photo"], b["photo"]) for a, b in zip(epoch0, epoch1, strict=True))
    # Two worker processes, epoch 1 first (a resumed run): the same batches.
    workers = _aug_datamodule(
        root, tmp_path / "cache", num_workers=2, persistent_workers=True
    ).train_dataloader()
    _assert_same_batches(_epoch(workers, 1), epoch1)
    _assert_same_batches(_epoch(workers, 0), epoch0)


def test_loader_resumes_mid_epoch(tmp_path: Path) -> None:
    root = _plain_root(tmp_path / "data")
    straight = _aug_datamodule(root, tmp_path / "cache").train_dataloader()
    expected = _epoch(straight, 2)
    assert len(expected) == 3

    interrupted = _aug_datamodule(root, tmp_path / "cache").train_dataloader()
    interrupted.sampler.set_epoch(2)
    iterator = iter(interrupted)
    next(iterator)
    state = interrupted.state_dict()
    assert state == {"epoch": 2, "batches": 1, "samples": 2}

    resumed = _aug_datamodule(root, tmp_path / "cache", num_workers=2).train_dataloader()
    resumed.load_state_dict(state)
    # What Lightning does on a restart: iter() first, then set_epoch, then next().
    iterator = iter(resumed)
    resumed.sampler.set_epoch(2)
    _assert_same_batches(list(iterator), expected[1:])
    assert resumed.state_dict()["batches"] == 3
    with pytest.raises(ValueError, match="loader state"):
        resumed.load_state_dict({"epoch": "x"})


def test_invalid_smooth_pairing_stops_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="smooth_pairing"):
        AnimeGANDataModule(root=tmp_path, smooth_pairing="other")
