"""LightningDataModule for unpaired photo -> anime training."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from animegan.data.augmentation import check_transform, describe_transform
from animegan.data.builtin import MARKER_NAME, build_quickstart_dataset
from animegan.data.datasets import (
    SAMPLE_SEED_KEY,
    PhotoDataset,
    Transform,
    UnpairedPhotoAnimeDataset,
    default_eval_transform,
    default_train_transform,
)
from animegan.data.decode import DEFAULT_MAX_PIXELS, DatasetNotFoundError
from animegan.data.layout import DatasetLayout, resolve_layout
from animegan.data.sampler import SMOOTH_PAIRINGS, SmoothPairing, UnpairedSampler
from animegan.data.scan import ScanResult, default_cache_dir, scan_image_folder, warn_skipped
from animegan.data.smoothing import SmoothCache

__all__ = ["AnimeGANDataModule", "ResumableDataLoader"]

log = logging.getLogger(__name__)


# Batch-level augmentation on a collated training batch, e.g. StyleMixup; it may take a keyword
# ``seed`` (int >= 0) that makes its draws a function of the batch's samples.
BatchTransform = Callable[..., dict[str, Any]]


def _batch_seed(sample_seeds: Sequence[int]) -> int:
    """One 63-bit seed from the per-sample seeds of a batch (order-sensitive)."""
    state = np.random.SeedSequence([int(seed) for seed in sample_seeds]).generate_state(2)
    return (int(state[0]) << 31) ^ int(state[1])


class _SeededCollate:
    """``default_collate`` without the per-sample seeds, then an optional batch transform.

    The batch transform gets ``seed=`` derived from the batch's sample seeds when it accepts one,
    so batch-level augmentation is as reproducible as the per-sample pipelines. A class so
    workers can pickle it.
    """

    def __init__(self, batch_transform: BatchTransform | None = None) -> None:
        self.batch_transform = batch_transform
        self._takes_seed = False
        if batch_transform is not None:
            try:
                parameters = inspect.signature(batch_transform).parameters
            except (TypeError, ValueError):
                parameters = {}
            self._takes_seed = "seed" in parameters

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        seeds = [sample[SAMPLE_SEED_KEY] for sample in samples if SAMPLE_SEED_KEY in sample]
        batch = default_collate(
            [{k: v for k, v in sample.items() if k != SAMPLE_SEED_KEY} for sample in samples]
        )
        if self.batch_transform is None:
            return batch
        if self._takes_seed and len(seeds) == len(samples):
            return self.batch_transform(batch, seed=_batch_seed([int(s) for s in seeds]))
        return self.batch_transform(batch)


class ResumableDataLoader(DataLoader):
    """A training ``DataLoader`` over an :class:`UnpairedSampler` that resumes mid-epoch exactly.

    Lightning stores ``state_dict()`` in every checkpoint (a loader with ``state_dict`` /
    ``load_state_dict`` is "stateful" to it) and calls ``load_state_dict`` when a run restarts
    inside an epoch; the sampler then skips the batches already trained on, and since every
    sample is a function of ``(seed, epoch, position)`` the rest of the epoch is what an
    uninterrupted run would have seen.

    Iteration is lazy: worker processes start, and the sampler reads its epoch, at the first
    ``next()``. When a run resumes, Lightning calls ``iter()`` before ``set_epoch``; an eager
    multi-worker iterator would already have drawn the first batches of the wrong epoch.

    Args:
        dataset: the training dataset.
        sampler: the :class:`UnpairedSampler` (it must not be wrapped in another sampler).
        batch_size: samples per batch; incomplete last batches are always dropped.
        **kwargs: other ``DataLoader`` arguments (workers, collate_fn, pin_memory, ...).
    """

    def __init__(
        self, dataset: Dataset, sampler: UnpairedSampler, batch_size: int, **kwargs: Any
    ) -> None:
        if not isinstance(sampler, UnpairedSampler):
            raise TypeError(f"ResumableDataLoader needs an UnpairedSampler, got {sampler!r}")
        kwargs.pop("drop_last", None)
        super().__init__(dataset, sampler=sampler, batch_size=batch_size, drop_last=True, **kwargs)
        self._epoch = sampler.epoch
        self._batches_done = 0

    def __iter__(self) -> Iterator[Any]:
        return self._iterate()

    def _iterate(self) -> Iterator[Any]:
        sampler = self.sampler
        assert isinstance(sampler, UnpairedSampler) and self.batch_size is not None
        self._epoch = sampler.epoch
        self._batches_done = sampler.pending_skip // self.batch_size
        for batch in super().__iter__():
            self._batches_done += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """``epoch`` being iterated, ``batches`` of it handed out so far and the matching number
        of ``samples`` (what a resume skips)."""
        assert self.batch_size is not None
        return {
            "epoch": self._epoch,
            "batches": self._batches_done,
            "samples": self._batches_done * self.batch_size,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Make the next iteration of the saved epoch skip the samples already trained on."""
        try:
            epoch, samples = int(state_dict["epoch"]), int(state_dict["samples"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"the checkpoint's training-loader state {dict(state_dict)!r} is not one this "
                "repository writes (epoch, batches, samples); resume from a checkpoint written "
                "by this code or from an end-of-epoch checkpoint"
            ) from error
        sampler = self.sampler
        assert isinstance(sampler, UnpairedSampler)
        sampler.resume_from(epoch, samples)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


class AnimeGANDataModule(L.LightningDataModule):
    """Unpaired photo/anime training data, validation sample photos and test photos.

    Folders are found by :func:`resolve_layout` (official ``train_photo`` + ``<Style>/style`` or
    plain ``photo`` + ``anime``). Every file is checked by decoding it; unreadable ones are left
    out and listed in one warning. Caches (scan verdicts, edge-smoothed anime images) go to
    ``cache_dir``; nothing is written into the data folders (except the quickstart build when
    ``builtin=True``).

    Validation uses a fixed subset: the first ``num_val_images`` sorted photos of ``val/``, or,
    when there is no validation folder, the last ``num_val_images`` sorted training photos (which
    stay in the training set: they are only rendered for visual monitoring and sample grids).

    Args:
        root: dataset root folder.
        style: style folder for the official layout (``"Hayao"``, ``"Shinkai"``, ``"Paprika"``).
        photo_dir: explicit training photo folder (relative paths are relative to ``root``).
        anime_dir: explicit training anime folder.
        val_dir: explicit validation photo folder.
        test_dir: explicit test photo folder.
        image_size: training crop side ``S`` in pixels.
        batch_size: training batch size (per device).
        num_workers: dataloader worker processes.
        pin_memory: pin host memory in the dataloaders.
        persistent_workers: keep workers alive between epochs (only with ``num_workers > 0``).
        seed: seed of the photo/anime pairing stream (same on every rank).
        cache_dir: cache root; default ``~/.cache/animegan`` (``$XDG_CACHE_HOME`` honoured).
        photo_transform: albumentations-style transform for training photos (default: random
            ``S`` crop); validation and test photos are only center-cropped, never augmented.
        anime_transform: transform applied identically to anime, gray and smooth gray
            (default: random ``S`` crop).
        batch_transform: applied to every collated training batch in the loader (e.g.
            :class:`animegan.data.augmentation.StyleMixup`); never to validation/test batches.
        num_val_images: size of the fixed validation subset.
        builtin: build the embedded quickstart dataset into ``root`` when it is missing or empty.
        use_official_smooth: use ``<Style>/smooth/`` files when present (official recipe); when
            False, smooth images are always computed from the anime image at ``image_size``.
        max_pixels: images whose header gives more pixels (width x height) are skipped and
            listed without being decoded; ``None``: no limit beyond PIL's own.
        smooth_pairing: ``"independent"`` (official: the smoothed anime D sees as a fake comes
            from its own shuffled stream, so it is in general another anime image than the one
            beside it, with its own crop) or ``"same"`` (each anime image with its own smoothed
            version, pixel-aligned).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        style: str | None = None,
        photo_dir: str | os.PathLike[str] | None = None,
        anime_dir: str | os.PathLike[str] | None = None,
        val_dir: str | os.PathLike[str] | None = None,
        test_dir: str | os.PathLike[str] | None = None,
        image_size: int = 256,
        batch_size: int = 12,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        seed: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        photo_transform: Transform | None = None,
        anime_transform: Transform | None = None,
        batch_transform: BatchTransform | None = None,
        num_val_images: int = 8,
        builtin: bool = False,
        use_official_smooth: bool = True,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        smooth_pairing: SmoothPairing = "independent",
    ) -> None:
        super().__init__()
        if image_size <= 0 or batch_size <= 0 or num_val_images <= 0:
            raise ValueError("image_size, batch_size and num_val_images must be positive")
        if smooth_pairing not in SMOOTH_PAIRINGS:
            raise ValueError(
                f"data.smooth_pairing must be one of {' | '.join(SMOOTH_PAIRINGS)}, got "
                f"{smooth_pairing!r}"
            )
        if int(seed) < 0:
            raise ValueError(f"the data seed must be >= 0, got {seed}")
        self.root = Path(root).expanduser()
        self.style = style
        self.photo_dir = photo_dir
        self.anime_dir = anime_dir
        self.val_dir = val_dir
        self.test_dir = test_dir
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.seed = int(seed)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        # Mistyped recipe arguments stop the run here, at instantiation, before any data work.
        check_transform(photo_transform, "photo_transform")
        check_transform(anime_transform, "anime_transform")
        self.photo_transform = photo_transform
        self.anime_transform = anime_transform
        self.batch_transform = batch_transform
        self.num_val_images = int(num_val_images)
        self.builtin = builtin
        self.use_official_smooth = use_official_smooth
        self.max_pixels = None if max_pixels is None else int(max_pixels)
        self.smooth_pairing: SmoothPairing = smooth_pairing

        self.layout: DatasetLayout | None = None
        self.scans: dict[str, ScanResult] = {}
        self.val_photos: list[Path] = []
        self.train_dataset: UnpairedPhotoAnimeDataset | None = None
        self.val_dataset: PhotoDataset | None = None
        self.test_dataset: PhotoDataset | None = None
        self._warned = False

    # ------------------------------------------------------------------ discovery
    def _maybe_build_builtin(self) -> None:
        if not self.builtin:
            return
        if (
            not self.root.exists()
            or _is_empty_dir(self.root)
            or (self.root / MARKER_NAME).is_file()
        ):
            log.info("Building the embedded quickstart dataset in %s", self.root)
            build_quickstart_dataset(self.root, image_size=self.image_size)

    def _scan_all(self, layout: DatasetLayout) -> dict[str, ScanResult]:
        def scan(folder: Path, role: str) -> ScanResult:
            return scan_image_folder(folder, self.cache_dir, role=role, max_pixels=self.max_pixels)

        scans = {"photo": scan(layout.photo_dir, "training photos")}
        scans["anime"] = scan(layout.anime_dir, "anime images")
        if layout.val_dir is not None:
            scans["val"] = scan(layout.val_dir, "validation photos")
        if layout.test_dir is not None:
            scans["test"] = scan(layout.test_dir, "test photos")
        return scans

    def _resolve(self) -> DatasetLayout:
        return resolve_layout(
            self.root,
            style=self.style,
            photo_dir=self.photo_dir,
            anime_dir=self.anime_dir,
            val_dir=self.val_dir,
            test_dir=self.test_dir,
        )

    def _smooth_cache(self, layout: DatasetLayout) -> SmoothCache:
        official = layout.smooth_dir if self.use_official_smooth else None
        return SmoothCache(self.cache_dir, self.image_size, official_smooth_dir=official)

    # ------------------------------------------------------------------ Lightning hooks
    def prepare_data(self) -> None:
        """Build the quickstart set if asked, check every file, fill the smooth cache (rank 0)."""
        self._maybe_build_builtin()
        layout = self._resolve()
        scans = self._scan_all(layout)
        # Threads, not dataloader workers: decoding and OpenCV release the GIL.
        threads = min(8, os.cpu_count() or 1)
        self._smooth_cache(layout).prepare(scans["anime"].paths, num_workers=threads)

    def setup(self, stage: str | None = None) -> None:
        """Resolve folders, scan them (cached) and build the datasets.

        Args:
            stage: Lightning stage (``"fit"``, ``"validate"``, ``"test"``, ``"predict"``); all
                datasets are built regardless, as they are cheap.
        """
        if self.layout is not None:
            return
        self._maybe_build_builtin()
        layout = self._resolve()
        scans = self._scan_all(layout)
        if not self._warned:
            skipped = [item for scan in scans.values() for item in scan.skipped]
            warn_skipped(skipped, log)
            self._warned = True

        photos = scans["photo"].paths
        if "val" in scans:
            self.val_photos = scans["val"].paths[: self.num_val_images]
        else:
            self.val_photos = photos[-self.num_val_images :]

        train_dataset = UnpairedPhotoAnimeDataset(
            photos,
            scans["anime"].paths,
            self.image_size,
            smooth_source=self._smooth_cache(layout).get,
            photo_transform=self.photo_transform
            if self.photo_transform is not None
            else default_train_transform(self.image_size),
            anime_transform=self.anime_transform
            if self.anime_transform is not None
            else default_train_transform(self.image_size),
        )
        # Unseeded draws (plain (photo, anime) indices) are reproducible too; the sampler's indices
        # reseed every draw from their own seed.
        train_dataset.reseed(self.seed)
        self.train_dataset = train_dataset
        self.val_dataset = PhotoDataset(
            self.val_photos, self.image_size, default_eval_transform(self.image_size)
        )
        if "test" in scans:
            self.test_dataset = PhotoDataset(scans["test"].paths, self.image_size)
        self.scans = scans
        self.layout = layout

    def _require_setup(self) -> None:
        if self.layout is None:
            self.setup()

    def _loader_kwargs(self) -> dict[str, Any]:
        return {
            "num_workers": self.num_workers,
            "pin_memory": self.pin_memory,
            "persistent_workers": self.persistent_workers and self.num_workers > 0,
        }

    def _check_no_double_sharding(self) -> None:
        trainer = self.trainer
        if trainer is None or trainer.world_size <= 1:
            return
        connector = getattr(trainer, "_accelerator_connector", None)
        if getattr(connector, "use_distributed_sampler", False):
            raise ValueError(
                "UnpairedSampler shards by rank itself; Lightning would shard a second time. "
                "Create the Trainer with use_distributed_sampler=False."
            )

    def train_dataloader(self) -> DataLoader:
        """Unpaired batches: dicts of ``photo``, ``anime``, ``anime_gray``, ``anime_smooth_gray``,
        each float32 ``[B, 3, S, S]`` in ``[-1, 1]``; incomplete last batches are dropped.

        Every random choice is a function of ``(seed, epoch, position)`` (see
        :class:`UnpairedSampler`), and the loader resumes mid-epoch (:class:`ResumableDataLoader`).
        The sampler shards by rank itself: run the Trainer with ``use_distributed_sampler=False``.
        """
        self._require_setup()
        assert self.train_dataset is not None
        self._check_no_double_sharding()
        sampler = UnpairedSampler(
            len(self.train_dataset.photo_paths),
            len(self.train_dataset.anime_paths),
            shuffle=True,
            seed=self.seed,
            smooth_pairing=self.smooth_pairing,
        )
        if len(sampler) < self.batch_size:
            raise ValueError(
                f"an epoch has {len(sampler)} photo/anime pairs per device, fewer than "
                f"batch_size={self.batch_size}: add images or lower the batch size"
            )
        return ResumableDataLoader(
            self.train_dataset,
            sampler=sampler,
            batch_size=self.batch_size,
            collate_fn=_SeededCollate(self.batch_transform),
            **self._loader_kwargs(),
        )

    def val_dataloader(self) -> DataLoader:
        """The fixed validation photos in order: ``photo`` ``[B, 3, S, S]`` and ``index`` ``[B]``."""
        self._require_setup()
        assert self.val_dataset is not None
        return DataLoader(
            self.val_dataset,
            batch_size=min(self.batch_size, len(self.val_dataset)),
            shuffle=False,
            **self._loader_kwargs(),
        )

    def test_dataloader(self) -> DataLoader:
        """All test photos in sorted order: ``photo`` ``[B, 3, S, S]`` and ``index`` ``[B]``."""
        self._require_setup()
        if self.test_dataset is None:
            raise DatasetNotFoundError(
                f"no test photos: put them in {self.root / 'test'} (or test/test_photo for the "
                "official layout), or set test_dir="
            )
        return DataLoader(
            self.test_dataset,
            batch_size=min(self.batch_size, len(self.test_dataset)),
            shuffle=False,
            **self._loader_kwargs(),
        )

    # ------------------------------------------------------------------ helpers
    def fixed_photos(self, n: int) -> torch.Tensor:
        """The first ``n`` validation photos, center-cropped, for sample grids.

        Args:
            n: how many; clipped to the size of the validation subset.

        Returns:
            float32 ``[min(n, num_val), 3, S, S]`` in ``[-1, 1]``, the same on every call.
        """
        self._require_setup()
        assert self.val_dataset is not None
        count = min(int(n), len(self.val_dataset))
        return torch.stack([self.val_dataset[i]["photo"] for i in range(count)])

    def describe(self) -> dict[str, Any]:
        """Summary for logging: layout kind, folders (as strings), image counts, skipped count, and
        the training augmentation in force with every argument (defaults included)."""
        self._require_setup()
        assert self.layout is not None and self.train_dataset is not None

        def text(path: Path | None) -> str | None:
            return None if path is None else str(path)

        return {
            "layout": self.layout.kind,
            "root": str(self.root),
            "style": self.style,
            "photo_dir": text(self.layout.photo_dir),
            "anime_dir": text(self.layout.anime_dir),
            "smooth_dir": text(self.layout.smooth_dir if self.use_official_smooth else None),
            "val_dir": text(self.layout.val_dir),
            "test_dir": text(self.layout.test_dir),
            "num_photos": len(self.scans["photo"].paths),
            "num_anime": len(self.scans["anime"].paths),
            "num_val": len(self.val_photos),
            "num_test": len(self.scans["test"].paths) if "test" in self.scans else 0,
            "num_skipped": sum(len(scan.skipped) for scan in self.scans.values()),
            "image_size": self.image_size,
            "smooth_pairing": self.smooth_pairing,
            "cache_dir": str(self.cache_dir),
            "augmentation": {
                "photo": describe_transform(self.train_dataset.photo_transform),
                "anime": describe_transform(self.train_dataset.anime_transform),
                "batch": None if self.batch_transform is None else repr(self.batch_transform),
            },
        }
