"""Aligned-face training data: the unpaired photo/anime data plus each photo's 5 landmarks.

Landmarks come from the ``landmarks.json`` that ``python -m animegan.cli.align_faces`` writes beside
its crops (format and reader: :mod:`animegan.faces.prepare`), so detection runs once per image (at
alignment), never per training step.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from animegan.data.augmentation import moving_steps
from animegan.data.datamodule import AnimeGANDataModule
from animegan.faces.prepare import LANDMARKS_FILE, load_crop_landmarks


class LandmarkedPhotoAnimeDataset(Dataset):
    """Adds ``landmarks`` [5, 2] (pixels of the returned photo) and ``has_face`` to each sample.

    Args:
        base: the unpaired dataset (indexed by ``(photo_index, anime_index)``).
        landmarks: crop file name → [5, 2] landmarks in crop pixels.
        crop_size: side of the square crops in pixels; the photo is resized to
            ``base.image_size``, so landmarks are scaled by ``image_size / crop_size``.
    """

    def __init__(self, base: Dataset, landmarks: dict[str, np.ndarray], crop_size: int) -> None:
        self.base = base
        self.scale = base.image_size / crop_size
        self.landmarks = landmarks

    def __len__(self) -> int:
        return len(self.base)

    def __getattr__(self, name: str) -> Any:
        if name == "base":  # during unpickling in a worker, before __init__ state exists
            raise AttributeError(name)
        return getattr(self.base, name)

    def __getitem__(self, index: tuple[int, int]) -> dict[str, Any]:
        item = self.base[index]
        points = self.landmarks.get(self.base.photo_paths[index[0]].name)
        item["has_face"] = torch.tensor(points is not None)
        # Photos without a face get the template-free placeholder (masked out by has_face).
        item["landmarks"] = torch.from_numpy(
            points * self.scale if points is not None else np.zeros((5, 2), np.float32)
        ).float()
        return item


class FaceAnimeDataModule(AnimeGANDataModule):
    """:class:`AnimeGANDataModule` over an aligned face folder, with landmarks in every batch.

    Args:
        landmarks_file: ``landmarks.json`` of the aligned photos (default:
            ``<photo dir>/landmarks.json``).
        **kwargs: as :class:`AnimeGANDataModule`. The photo recipe must not move pixels
            (no flip/affine: the landmarks are cached); ``augmentation=none`` is right.
    """

    def __init__(self, *, landmarks_file: str | os.PathLike[str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.landmarks_file = landmarks_file
        # Geometric transforms would move faces away from the cached landmarks.
        moving = moving_steps(self.photo_transform)
        if moving:
            raise ValueError(
                f"the photo augmentation moves pixels ({', '.join(moving)}), which would misplace "
                "the cached face landmarks; use augmentation=none for face fine-tuning"
            )

    def setup(self, stage: str | None = None) -> None:
        """Set up as the parent does, then attach each training photo's landmarks."""
        super().setup(stage)
        if isinstance(self.train_dataset, LandmarkedPhotoAnimeDataset):
            return
        assert self.layout is not None and self.train_dataset is not None
        path = self.landmarks_file or self.layout.photo_dir / LANDMARKS_FILE
        table, crop_size = load_crop_landmarks(path)
        if crop_size <= 0:
            raise ValueError(f"{path} records no crop size; re-run animegan.cli.align_faces")
        self.train_dataset = LandmarkedPhotoAnimeDataset(self.train_dataset, table, crop_size)
