"""LightningDataModule for unpaired photo -> anime training."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from animegan.data.augmentation import check_transform, describe_transform
from animegan.data.builtin import MARKER_NAME, build_quickstart_dataset
from animegan.data.datasets import (
    PhotoDataset,
    Transform,
    UnpairedPhotoAnimeDataset,
    default_eval_transform,
    default_train_transform,
)
from animegan.data.decode import DEFAULT_MAX_PIXELS, DatasetNotFoundError
from animegan.data.layout import DatasetLayout, resolve_layout
from animegan.data.loaders import BatchTransform, ResumableDataLoader, SeededCollate
from animegan.data.sampler import SMOOTH_PAIRINGS, SmoothPairing, UnpairedSampler
from animegan.data.scan import ScanResult, default_cache_dir, scan_image_folder, warn_skipped
from animegan.data.smoothing import SmoothCache

__all__ = ["AnimeGANDataModule", "ResumableDataLoader"]

log = logging.getLogger(__name__)


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

    def train_dataloader(self) -> DataLoader:
        """Unpaired training batches; incomplete last batches are dropped.

        Each batch is a dict of ``photo``, ``anime``, ``anime_gray`` and ``anime_smooth_gray``,
        each float32 ``[B, 3, S, S]`` in ``[-1, 1]``.

        Every random choice is a function of ``(seed, epoch, position)`` (see
        :class:`UnpairedSampler`), and the loader resumes mid-epoch (:class:`ResumableDataLoader`).
        The sampler shards by rank itself: run the Trainer with ``use_distributed_sampler=False``.
        """
        self._require_setup()
        assert self.train_dataset is not None
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
            collate_fn=SeededCollate(self.batch_transform),
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
        """Summary for logging.

        Layout kind, folders (as strings), image counts, skipped count, and the training
        augmentation in force with every argument (defaults included).
        """
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
