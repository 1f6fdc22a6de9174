"""Map-style datasets: unpaired photo/anime training samples and photo-only evaluation samples.

Images are decoded by content, resized so the shorter side equals ``image_size`` (no squashing),
then cropped to ``image_size x image_size`` by an albumentations-style transform. Tensors are
float32 ``[3, S, S]`` in ``[-1, 1]`` (``x / 127.5 - 1``, as in the official loader).

Training samples indexed by :class:`animegan.data.sampler.UnpairedIndex` reseed every
albumentations transform from the index's own seed before drawing, so each crop, flip and jitter
is a function of ``(seed, epoch, position)`` alone: the same in every worker layout and after a
resume, with no random state to save.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from animegan.data.augmentation import check_transform, seed_transform
from animegan.data.decode import read_image_rgb
from animegan.data.sampler import UnpairedIndex
from animegan.data.smoothing import resize_shorter_side, to_gray3
from animegan.utils.images import from_uint8_image

__all__ = [
    "ANIME_TARGETS",
    "SAMPLE_SEED_KEY",
    "PhotoDataset",
    "Transform",
    "UnpairedPhotoAnimeDataset",
    "default_eval_transform",
    "default_train_transform",
    "gray_to_tensor",
    "image_to_tensor",
    "with_anime_targets",
]

# albumentations-style callable: ``t(image=..., **targets) -> dict`` of uint8 HxWx3 arrays.
Transform = Callable[..., dict[str, Any]]

# The grayscale and smoothed-grayscale anime images are extra "image" targets, so one sampled
# geometric transform (crop, flip, affine) moves them with the colour image and they stay aligned.
# The dataset passes only ``anime_smooth_gray`` through the transform and derives ``anime_gray``
# from the transformed colour image (cheaper, and exact under colour augmentation too).
ANIME_TARGETS: dict[str, str] = {"anime_gray": "image", "anime_smooth_gray": "image"}

# Sample key holding the per-sample seed (int64 scalar tensor) of a seeded index; the datamodule's
# collate removes it from the batch after deriving the batch-level augmentation seed from it.
SAMPLE_SEED_KEY = "sample_seed"


def default_train_transform(image_size: int) -> A.Compose:
    """Random ``image_size`` square crop (after the shorter-side resize), no other augmentation.

    Args:
        image_size: output side in pixels.

    Returns:
        ``A.Compose`` that also accepts the ``anime_gray`` and ``anime_smooth_gray`` targets.
    """
    return A.Compose(
        [A.RandomCrop(height=image_size, width=image_size)], additional_targets=dict(ANIME_TARGETS)
    )


def default_eval_transform(image_size: int) -> A.Compose:
    """Center ``image_size`` square crop (after the shorter-side resize); deterministic.

    Args:
        image_size: output side in pixels.

    Returns:
        ``A.Compose`` that also accepts the ``anime_gray`` and ``anime_smooth_gray`` targets.
    """
    return A.Compose(
        [A.CenterCrop(height=image_size, width=image_size)], additional_targets=dict(ANIME_TARGETS)
    )


def with_anime_targets(transform: Transform) -> Transform:
    """Make an albumentations transform apply to ``anime_gray`` / ``anime_smooth_gray`` too.

    A ``Compose`` is copied and given the targets (``Compose.add_targets``); a bare transform or
    ``OneOf`` is wrapped in a ``Compose`` (a bare albumentations transform silently passes unknown
    keys through untouched, which would misalign the gray images). Other callables are returned
    unchanged: they must accept ``image`` and ``anime_smooth_gray`` and return both.

    Args:
        transform: albumentations transform or any ``t(image=..., **targets) -> dict`` callable.

    Returns:
        A transform that accepts ``image``, ``anime_gray`` and ``anime_smooth_gray``.
    """
    if isinstance(transform, A.Compose):
        prepared = copy.deepcopy(transform)
        prepared.add_targets(dict(ANIME_TARGETS))
        return prepared
    if isinstance(transform, (A.BasicTransform, A.BaseCompose)):
        return A.Compose([transform], additional_targets=dict(ANIME_TARGETS))
    return transform


# uint8 value -> float32 in [-1, 1] (from_uint8_image of every value), so a table look-up gives
# bit-identical values in one pass.
_TO_SIGNED_UNIT = from_uint8_image(np.arange(256, dtype=np.uint8))


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 ``[H, W, 3]`` image to float32 ``[3, H, W]`` in ``[-1, 1]`` (``x / 127.5 - 1``)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise TypeError(
            f"transforms must return uint8 HxWx3 images, got {image.dtype} {image.shape}; "
            "do not normalise inside the transform"
        )
    height, width = image.shape[:2]
    out = np.empty((3, height, width), np.float32)
    # HWC -> CHW with cv2.split and a float32 table look-up per plane (both SIMD): one pass over
    # the output instead of a strided permute-copy, a float cast, a divide and a subtract.
    for channel, plane in enumerate(cv2.split(image)):
        cv2.LUT(plane, _TO_SIGNED_UNIT, dst=out[channel])
    return torch.from_numpy(out)


def gray_to_tensor(gray: np.ndarray) -> torch.Tensor:
    """uint8 ``[H, W]`` luma to float32 ``[3, H, W]`` in ``[-1, 1]``, the plane copied 3 times.

    Same values as ``image_to_tensor(to_gray3(rgb))`` for ``gray = luma(rgb)``, with a third of
    the conversion work.

    Args:
        gray: ``[H, W]`` uint8.

    Returns:
        Contiguous float32 ``[3, H, W]``.
    """
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise TypeError(f"expected a uint8 HxW gray image, got {gray.dtype} {gray.shape}")
    out = np.empty((3, *gray.shape), np.float32)
    cv2.LUT(np.ascontiguousarray(gray), _TO_SIGNED_UNIT, dst=out[0])
    out[1] = out[0]
    out[2] = out[0]
    return torch.from_numpy(out)


def _luma(image_rgb: np.ndarray) -> np.ndarray:
    # The same OpenCV luma as to_gray3, kept as one plane.
    return cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY)


def _check_square(image: np.ndarray, image_size: int, what: str) -> None:
    if image.shape[:2] != (image_size, image_size):
        raise ValueError(
            f"{what} transform returned a {image.shape[1]}x{image.shape[0]} image, expected "
            f"{image_size}x{image_size}: end the transform with a crop or resize to image_size"
        )


def _match_shape(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if image.shape[:2] == (h, w):
        return image
    shrinking = image.shape[0] * image.shape[1] > h * w
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(image, (w, h), interpolation=interpolation)


class UnpairedPhotoAnimeDataset(Dataset[dict[str, torch.Tensor]]):
    """Training samples: a photo, an unrelated anime image with its gray, and a smoothed gray.

    Indexed by :class:`animegan.data.sampler.UnpairedIndex` ``(photo, anime, smooth, seed)``
    (what :class:`UnpairedSampler` yields): ``anime_smooth_gray`` is the edge-smoothed gray of
    anime image ``smooth`` with its own independently drawn crop/augmentation when ``smooth !=
    anime``, or the pixel-aligned smoothed version of ``anime`` (one shared draw) when they are
    equal; every albumentations draw is seeded from ``seed``. A plain ``(photo_index,
    anime_index)`` pair also works: the anime image's own smoothed version, with draws from the
    transforms' own random state (see :meth:`reseed`).

    Args:
        photo_paths: training photos.
        anime_paths: training anime images.
        image_size: output side ``S`` in pixels; images are first resized so their shorter side
            is ``S``.
        smooth_source: maps an anime path to its edge-smoothed RGB image at that resolution
            (e.g. ``SmoothCache(...).get``); resized to the anime image's shape if it differs.
        photo_transform: ``t(image=...)``; default a random ``S`` crop. Must return ``S x S`` uint8.
        anime_transform: ``t(image=..., anime_smooth_gray=...)``: one sampled transform for the
            colour anime image and its smoothed gray (called as ``t(image=...)`` once for each
            when they come from different anime images); default a random ``S`` crop;
            albumentations transforms get the targets added. Afterwards ``anime_gray`` is the
            luma of the transformed colour image and ``anime_smooth_gray`` is re-grayed, so
            colour augmentation never leaves a tint in the gray targets.

    Raises:
        ValueError: no photos or anime images, or a transform with unknown arguments
            (:func:`animegan.data.augmentation.check_transform`).
    """

    def __init__(
        self,
        photo_paths: Sequence[Path],
        anime_paths: Sequence[Path],
        image_size: int,
        smooth_source: Callable[[Path], np.ndarray],
        photo_transform: Transform | None = None,
        anime_transform: Transform | None = None,
    ) -> None:
        if not photo_paths or not anime_paths:
            raise ValueError(
                f"need at least one photo and one anime image, got {len(photo_paths)} photos "
                f"and {len(anime_paths)} anime images"
            )
        self.photo_paths = [Path(p) for p in photo_paths]
        self.anime_paths = [Path(p) for p in anime_paths]
        self.image_size = int(image_size)
        self.smooth_source = smooth_source
        # `is None`, not `or`: an albumentations Compose defines __len__, so an empty one is falsy.
        if photo_transform is None:
            photo_transform = default_train_transform(self.image_size)
        if anime_transform is None:
            anime_transform = default_train_transform(self.image_size)
        check_transform(photo_transform, "photo_transform")
        check_transform(anime_transform, "anime_transform")
        self.photo_transform = photo_transform
        self.anime_transform = with_anime_targets(anime_transform)

    def __len__(self) -> int:
        """Number of photos (an epoch's length is set by the sampler)."""
        return len(self.photo_paths)

    def reseed(self, seed: int) -> None:
        """Reseed the transforms' own random generators (albumentations ignores global seeds).

        These generators serve plain ``(photo_index, anime_index)`` indices; an
        :class:`UnpairedIndex` reseeds every draw from its own seed and does not depend on them.

        Args:
            seed: any non-negative integer.
        """
        photo_seed, anime_seed = np.random.SeedSequence(seed).generate_state(2)
        seed_transform(self.photo_transform, int(photo_seed))
        seed_transform(self.anime_transform, int(anime_seed))

    def _seed_draws(self, seed: int) -> tuple[int, int, int]:
        # Independent seeds for the photo draw, the anime draw and the smoothed-anime draw.
        photo_seed, anime_seed, smooth_seed = np.random.SeedSequence(seed).generate_state(3)
        return int(photo_seed), int(anime_seed), int(smooth_seed)

    def _load_anime(self, anime_index: int) -> np.ndarray:
        return resize_shorter_side(
            read_image_rgb(self.anime_paths[anime_index], self.image_size), self.image_size
        )

    def __getitem__(self, index: UnpairedIndex | tuple[int, int]) -> dict[str, torch.Tensor]:
        """One unpaired sample.

        Args:
            index: :class:`UnpairedIndex` ``(photo, anime, smooth, seed)`` or ``(photo_index,
                anime_index)``.

        Returns:
            ``photo``, ``anime``, ``anime_gray``, ``anime_smooth_gray``: float32 ``[3, S, S]`` in
            ``[-1, 1]``; ``anime`` and ``anime_gray`` are pixel-aligned (and with
            ``anime_smooth_gray`` too when it is the same anime image). Seeded indices add
            ``sample_seed``: the index's seed as an int64 scalar tensor.
        """
        if not isinstance(index, tuple | list) or len(index) not in (2, 4):
            raise TypeError(
                "index with (photo_index, anime_index) or an UnpairedIndex (photo, anime, smooth, "
                f"seed), got {index!r}: use UnpairedSampler"
            )
        seeded = len(index) == 4
        if seeded:
            photo_index, anime_index, smooth_index, sample_seed = (int(i) for i in index)
            photo_seed, anime_seed, smooth_seed = self._seed_draws(sample_seed)
        else:
            photo_index, anime_index = (int(i) for i in index)
            smooth_index = anime_index
        size = self.image_size
        photo = resize_shorter_side(read_image_rgb(self.photo_paths[photo_index], size), size)
        # Same decode and resize as SmoothCache, so the smooth image is pixel-aligned.
        anime = self._load_anime(anime_index)

        if seeded:
            seed_transform(self.photo_transform, photo_seed)
        photo = self.photo_transform(image=photo)["image"]
        if seeded:
            seed_transform(self.anime_transform, anime_seed)
        if smooth_index == anime_index:
            smooth = _match_shape(
                self.smooth_source(self.anime_paths[anime_index]), anime.shape[:2]
            )
            out = self.anime_transform(image=anime, anime_smooth_gray=to_gray3(smooth))
            smooth_out = out["anime_smooth_gray"]
        else:
            # Another anime image: its own crop and augmentation, as the official third stream.
            out = self.anime_transform(image=anime)
            smooth = resize_shorter_side(
                self.smooth_source(self.anime_paths[smooth_index]), self.image_size
            )
            if seeded:
                seed_transform(self.anime_transform, smooth_seed)
            smooth_out = self.anime_transform(image=to_gray3(smooth))["image"]
        _check_square(photo, self.image_size, "photo")
        _check_square(out["image"], self.image_size, "anime (image)")
        _check_square(smooth_out, self.image_size, "anime (anime_smooth_gray)")
        anime = out["image"]
        sample = {
            "photo": image_to_tensor(photo),
            "anime": image_to_tensor(anime),
            # Derived after the transform: the gray of exactly the colour image D sees.
            "anime_gray": gray_to_tensor(_luma(anime)),
            # Identity for a gray input (luma weights sum to 1); removes any tint a colour step
            # (e.g. hue jitter) put into the smoothed gray.
            "anime_smooth_gray": gray_to_tensor(_luma(smooth_out)),
        }
        if seeded:
            sample[SAMPLE_SEED_KEY] = torch.tensor(sample_seed, dtype=torch.int64)
        return sample


class PhotoDataset(Dataset[dict[str, Any]]):
    """Validation / test photos, never augmented.

    Args:
        paths: photo files.
        image_size: output side ``S``; shorter side resized to ``S``, then center-cropped.
        transform: ``t(image=...)`` replacing the center crop; must return ``S x S`` uint8.
    """

    def __init__(
        self, paths: Sequence[Path], image_size: int, transform: Transform | None = None
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.image_size = int(image_size)
        self.transform = default_eval_transform(self.image_size) if transform is None else transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """One photo.

        Args:
            index: position in ``paths``.

        Returns:
            ``photo``: float32 ``[3, S, S]`` in ``[-1, 1]``; ``index``: the int ``index``.
        """
        photo = resize_shorter_side(
            read_image_rgb(self.paths[index], self.image_size), self.image_size
        )
        photo = self.transform(image=photo)["image"]
        _check_square(photo, self.image_size, "photo")
        return {"photo": image_to_tensor(photo), "index": int(index)}
