"""Data: decoding, folder layouts, edge smoothing, datasets, sampler and the LightningDataModule.

Names are imported lazily on first use, so light entry points (``python -m
animegan.data.download``, ``from animegan.data.smoothing import to_gray3``) do not pay for
Lightning and albumentations imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from animegan.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AnimeGANDataModule": "animegan.data.datamodule",
    "DatasetLayout": "animegan.data.layout",
    "DatasetNotFoundError": "animegan.data.decode",
    "DownloadError": "animegan.data.download",
    "ImageDecodeError": "animegan.data.decode",
    "PhotoDataset": "animegan.data.datasets",
    "ScanResult": "animegan.data.scan",
    "SmoothCache": "animegan.data.smoothing",
    "UnpairedPhotoAnimeDataset": "animegan.data.datasets",
    "UnpairedSampler": "animegan.data.sampler",
    "build_quickstart_dataset": "animegan.data.builtin",
    "default_cache_dir": "animegan.data.scan",
    "default_eval_transform": "animegan.data.datasets",
    "default_train_transform": "animegan.data.datasets",
    "download_official_dataset": "animegan.data.download",
    "edge_smooth": "animegan.data.smoothing",
    "read_image_rgb": "animegan.data.decode",
    "resize_shorter_side": "animegan.data.smoothing",
    "resolve_layout": "animegan.data.layout",
    "scan_image_folder": "animegan.data.scan",
    "to_gray3": "animegan.data.smoothing",
    "warn_skipped": "animegan.data.scan",
}

__all__ = [
    "AnimeGANDataModule",
    "DatasetLayout",
    "DatasetNotFoundError",
    "DownloadError",
    "ImageDecodeError",
    "PhotoDataset",
    "ScanResult",
    "SmoothCache",
    "UnpairedPhotoAnimeDataset",
    "UnpairedSampler",
    "build_quickstart_dataset",
    "default_cache_dir",
    "default_eval_transform",
    "default_train_transform",
    "download_official_dataset",
    "edge_smooth",
    "read_image_rgb",
    "resize_shorter_side",
    "resolve_layout",
    "scan_image_folder",
    "to_gray3",
    "warn_skipped",
]

if TYPE_CHECKING:
    from animegan.data.builtin import build_quickstart_dataset
    from animegan.data.datamodule import AnimeGANDataModule
    from animegan.data.datasets import (
        PhotoDataset,
        UnpairedPhotoAnimeDataset,
        default_eval_transform,
        default_train_transform,
    )
    from animegan.data.decode import DatasetNotFoundError, ImageDecodeError, read_image_rgb
    from animegan.data.download import DownloadError, download_official_dataset
    from animegan.data.layout import DatasetLayout, resolve_layout
    from animegan.data.sampler import UnpairedSampler
    from animegan.data.scan import ScanResult, default_cache_dir, scan_image_folder, warn_skipped
    from animegan.data.smoothing import SmoothCache, edge_smooth, resize_shorter_side, to_gray3


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
