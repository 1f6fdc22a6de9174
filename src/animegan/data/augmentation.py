"""Augmentation recipes: strict albumentations pipelines, low-light CLAHE and style mixup.

A recipe (``conf/augmentation/*.yaml``) names its steps per side (``photo``, ``anime``); Hydra
builds each step and :func:`build_pipeline` turns the non-null ones into one ``A.Compose``. Three
guards sit between a YAML file and a training run:

* albumentations 2.0.8 only *warns* about an unknown argument (``HorizontalFlip(prob=1)`` silently
  runs with ``p=0.5``): :func:`check_transform` raises instead and suggests the closest name;
* ``A.Affine(rotate=5)`` means a fixed 5 degrees on every image, not +-5: a degenerate, non-identity
  range is almost always a typo for a range, so it raises too;
* the pipeline is built with ``strict=True``, so calling it with an unknown target key raises.

Batch-level augmentation (style mixup) cannot live in a per-sample albumentations pipeline: it
mixes two anime images. :class:`StyleMixup` runs in the dataloader's collate step instead (in the
workers, on already collated tensors), so it costs no extra decoding.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Mapping
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch
from albumentations.augmentations.dropout.transforms import BaseDropout
from albumentations.augmentations.pixel import functional as pixel_functional
from albumentations.core.transforms_interface import BaseTransformInitSchema
from pydantic import Field
from torch import Tensor

__all__ = [
    "ANIME_BATCH_KEYS",
    "LowLightCLAHE",
    "StyleMixup",
    "build_pipeline",
    "check_transform",
    "describe_transform",
    "mean_luma",
    "moving_steps",
    "seed_transform",
]

# Batch keys that style mixup blends with one shared weight per sample (colour, gray and smoothed
# gray of one anime image stay consistent: gray is linear in RGB).
ANIME_BATCH_KEYS: tuple[str, ...] = ("anime", "anime_gray", "anime_smooth_gray")

# OpenCV/BT.601 luma weights (R, G, B), the same as animegan.data.smoothing.to_gray3.
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)

# Affine arguments whose scalar form means "always exactly this value" (albumentations 2.0.8
# `A.Affine` docstring: "If a number, then that value will be used for all images"), with the
# value that means "no change".
_AFFINE_RANGES: dict[str, float] = {
    "rotate": 0.0,
    "shear": 0.0,
    "translate_percent": 0.0,
    "translate_px": 0.0,
    "scale": 1.0,
}


def _ranges(value: Any) -> list[tuple[float, float]]:
    """The ``(low, high)`` pairs inside an Affine attribute (a tuple or an ``{x:, y:}`` dict)."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [pair for item in value.values() for pair in _ranges(item)]
    return [(float(value[0]), float(value[1]))]


def _check_affine(transform: A.Affine, where: str) -> None:
    for name, identity in _AFFINE_RANGES.items():
        for low, high in _ranges(getattr(transform, name, None)):
            if low == high and low != identity:
                raise ValueError(
                    f"{where}: Affine {name}={low:g} is a fixed {name} applied to every image, "
                    f"not a random range; pass a range such as {name}: [{-abs(low):g}, "
                    f"{abs(low):g}]" + (" (scale: [0.95, 1.05])" if name == "scale" else "")
                )


def check_transform(transform: Any, where: str = "transform") -> None:
    """Raise on mistyped or degenerate arguments anywhere in an albumentations transform tree.

    albumentations 2.0.8 records unknown constructor arguments in ``invalid_args`` and only warns
    (unless each transform is built with ``strict=True``); this walks a ``Compose`` / ``OneOf`` /
    single transform and raises for them, naming the closest valid argument. It also rejects
    ``A.Affine`` ranges given as one number (a fixed rotation/shear/translation/scale).
    Non-albumentations callables are accepted as they are.

    Args:
        transform: albumentations transform or compose, or any other callable.
        where: label used in the error message (e.g. ``"photo step 'affine'"``).

    Raises:
        ValueError: an unknown argument or a degenerate Affine range.
    """
    if isinstance(transform, A.BaseCompose):
        for index, child in enumerate(transform.transforms):
            check_transform(child, f"{where}[{index}]")
        return
    if not isinstance(transform, A.BasicTransform):
        return
    invalid = list(getattr(transform, "invalid_args", []) or [])
    if invalid:
        valid = sorted({"p", *transform.get_transform_init_args_names()})
        hints = []
        for name in invalid:
            # Prefix matches catch what difflib's ratio misses, e.g. `prob` for `p`.
            prefixes = [v for v in valid if name.startswith(v) or v.startswith(name)]
            close = difflib.get_close_matches(name, valid, n=1) or prefixes
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ValueError(
            f"{where}: {type(transform).__name__} got unknown argument(s) {', '.join(hints)}; "
            f"valid arguments: {', '.join(valid)}"
        )
    if isinstance(transform, A.Affine):
        _check_affine(transform, where)


# Dual (spatial) transforms that leave every kept pixel where it was: dropouts only blank
# regions, and a crop to the training size is the identity on a square face crop resized to it.
_IN_PLACE_DUAL = (BaseDropout, A.NoOp, A.RandomCrop, A.CenterCrop, A.Crop)


def moving_steps(transform: Any) -> list[str]:
    """Class names of the transforms in a pipeline that move pixels (flip, affine, warp, ...).

    Judged by type, never by name: albumentations' ``ImageOnlyTransform`` changes pixel values
    only; a ``DualTransform`` changes geometry (it also maps masks and keypoints) unless it is a
    dropout or a crop to the training size. Any other callable may declare ``moves_pixels``
    (bool); one that does not is taken not to move pixels.

    Args:
        transform: albumentations transform or compose, any other callable, or ``None``.

    Returns:
        The moving transforms' class names in pipeline order; empty when nothing moves.
    """
    if isinstance(transform, A.BaseCompose):
        return [name for child in transform.transforms for name in moving_steps(child)]
    if isinstance(transform, (A.ImageOnlyTransform, *_IN_PLACE_DUAL)):
        return []
    if isinstance(transform, A.DualTransform):
        return [type(transform).__name__]
    return [type(transform).__name__] if getattr(transform, "moves_pixels", False) else []


def build_pipeline(
    steps: Mapping[str, Any],
    additional_targets: Mapping[str, str] | None = None,
) -> A.Compose:
    """One strict ``A.Compose`` from named steps, skipping steps set to ``None``.

    Named steps (instead of a list) let a recipe switch one step off from the command line
    (``augmentation.photo.steps.affine=null``) and let recipes extend each other by key.

    Args:
        steps: ``name -> transform | None`` in the order they run (YAML order). Every transform
            is checked with :func:`check_transform`.
        additional_targets: extra image keys moved with the same sampled parameters, e.g.
            ``{"anime_gray": "image", "anime_smooth_gray": "image"}`` for the anime side.

    Returns:
        ``A.Compose(..., strict=True)``: calling it with an unknown key raises.

    Raises:
        ValueError: no step left, or a step with unknown/degenerate arguments.
        TypeError: a step that is not an albumentations transform.
    """
    active = {name: step for name, step in steps.items() if step is not None}
    if not active:
        raise ValueError(
            "an augmentation pipeline needs at least one step (the crop to the training size)"
        )
    for name, step in active.items():
        if not isinstance(step, A.BasicTransform | A.BaseCompose):
            raise TypeError(
                f"step '{name}' must be an albumentations transform, got {type(step).__name__}; "
                "give it a _target_ such as albumentations.HorizontalFlip"
            )
        check_transform(step, f"step '{name}'")
    return A.Compose(
        list(active.values()),
        additional_targets=dict(additional_targets) if additional_targets else None,
        strict=True,
    )


def seed_transform(transform: Any, seed: int) -> None:
    """Give an albumentations transform tree one random stream seeded by ``seed``.

    ``Compose.set_random_seed`` in albumentations 2.0.8 seeds every child with the *same* seed, so
    the children draw identical numbers: two ``p=0.5`` steps then fire together or not at all.
    Sharing one generator object instead (``set_random_state``) makes the draws sequential and
    independent while staying reproducible.

    Args:
        transform: albumentations transform/compose; other callables are left alone.
        seed: non-negative integer.
    """
    setter = getattr(transform, "set_random_state", None)
    if callable(setter):
        setter(np.random.default_rng(seed), random.Random(seed))


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def describe_transform(transform: Any) -> Any:
    """Every argument of an albumentations pipeline (defaults included), as plain YAML/JSON data.

    Args:
        transform: albumentations transform or compose, any other callable, or ``None``.

    Returns:
        Nested dicts/lists of str/int/float/bool/None (``A.to_dict`` with tuples as lists), the
        ``repr`` of a non-albumentations callable, or ``None``.
    """
    if transform is None:
        return None
    if isinstance(transform, A.BasicTransform | A.BaseCompose):
        try:
            return _json_safe(A.to_dict(transform)["transform"])
        except (NotImplementedError, ValueError, TypeError):
            pass
    return repr(transform)


def mean_luma(image: np.ndarray) -> float:
    """Mean BT.601 luma of an RGB image.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.

    Returns:
        Mean ``0.299 R + 0.587 G + 0.114 B`` in ``[0, 1]`` (fraction of 255).
    """
    # cv2.mean is one pass without a float copy; luma is linear, so mean(luma) = luma(means).
    red, green, blue = cv2.mean(image)[:3]
    weights = _LUMA_WEIGHTS
    return (weights[0] * red + weights[1] * green + weights[2] * blue) / 255.0


class LowLightCLAHE(A.ImageOnlyTransform):
    """CLAHE on the L channel (LAB), applied only to dark images (mean luma below a threshold).

    Histogram equalisation lifts under-exposed photos, but on a well-exposed photo it exaggerates
    noise and flattens tones; gating on mean luma applies it where it helps. Being image-only, it
    never moves pixels, so targets stay aligned.

    Args:
        clip_limit: CLAHE contrast limit (OpenCV ``clipLimit``), > 0; fixed, not sampled.
        tile_grid_size: ``(rows, cols)`` of the CLAHE tile grid.
        luma_threshold: apply when the image's mean luma (``[0, 1]``, fraction of 255) is
            strictly below this.
        p: probability of checking (and, if dark, equalising) an image.
    """

    class InitSchema(BaseTransformInitSchema):
        """Argument validation of albumentations' transform schema."""

        clip_limit: float = Field(gt=0)
        tile_grid_size: tuple[int, int]
        luma_threshold: float = Field(ge=0, le=1)

    def __init__(
        self,
        clip_limit: float = 2.0,
        tile_grid_size: tuple[int, int] = (8, 8),
        luma_threshold: float = 0.3,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        if min(tile_grid_size) < 1:
            raise ValueError(f"tile_grid_size must be positive, got {tile_grid_size}")
        self.clip_limit = float(clip_limit)
        self.tile_grid_size = (int(tile_grid_size[0]), int(tile_grid_size[1]))
        self.luma_threshold = float(luma_threshold)

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        """Decide per image: equalise when its mean luma is below ``luma_threshold``."""
        luma = mean_luma(data["image"])
        return {"mean_luma": luma, "equalize": luma < self.luma_threshold}

    def apply(self, img: np.ndarray, equalize: bool = False, **params: Any) -> np.ndarray:
        """CLAHE on ``img`` (uint8 RGB) when ``equalize``; otherwise ``img`` unchanged."""
        if not equalize:
            return img
        return pixel_functional.clahe(img, self.clip_limit, self.tile_grid_size)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments albumentations records for ``repr`` and serialisation."""
        return ("clip_limit", "tile_grid_size", "luma_threshold")


class StyleMixup:
    """Blend each anime image of a batch with its neighbour: ``x = lam * a_i + (1 - lam) * a_j``.

    Style mixup widens the set of "real anime" the discriminator sees with in-between styles.
    ``lam ~ Beta(alpha, alpha)`` per sample (U-shaped for alpha < 1: most mixes stay close to one
    image), the partner ``j`` is the previous sample in the batch (``i - 1``, cyclic), and the
    same ``lam`` is used for ``anime``, ``anime_gray`` and ``anime_smooth_gray`` so they stay
    consistent (luma is linear in RGB). Photos are untouched. The draws come from a NumPy generator
    seeded by the ``seed`` given to :meth:`__call__` (the datamodule derives it from the batch's
    per-sample seeds, so a batch mixes identically in every worker layout and after a resume);
    without one the seed is drawn from torch's default generator.

    Args:
        alpha: Beta concentration, > 0 (0.2: mostly light mixes).
        p: probability that a sample is mixed at all, in ``[0, 1]``.
        keys: batch keys to blend.
    """

    def __init__(
        self, alpha: float = 0.2, p: float = 1.0, keys: tuple[str, ...] = ANIME_BATCH_KEYS
    ) -> None:
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.alpha = float(alpha)
        self.p = float(p)
        self.keys = tuple(keys)

    def __repr__(self) -> str:
        return f"StyleMixup(alpha={self.alpha}, p={self.p}, keys={self.keys})"

    def sample_weights(self, batch_size: int, seed: int | None = None) -> Tensor:
        """Mixing weights ``lam`` for one batch.

        Args:
            batch_size: number of samples ``B``.
            seed: seed of the draws, >= 0; ``None`` draws one from torch's default generator.

        Returns:
            float32 ``[B]`` in ``[0, 1]``; 1 for samples that are not mixed.
        """
        if seed is None:
            seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
        rng = np.random.default_rng(seed)
        lam = rng.beta(self.alpha, self.alpha, batch_size)
        keep = rng.random(batch_size) >= self.p
        return torch.from_numpy(np.where(keep, 1.0, lam).astype(np.float32))

    def __call__(self, batch: Mapping[str, Any], seed: int | None = None) -> dict[str, Any]:
        """Mix a collated batch.

        Args:
            batch: collated dict with float ``[B, 3, S, S]`` tensors under ``keys``.
            seed: seed of this batch's draws (see :meth:`sample_weights`).

        Returns:
            A new dict: the ``keys`` tensors mixed, every other entry as given.
        """
        out = dict(batch)
        batch_size = int(out[self.keys[0]].shape[0])
        if batch_size < 2:
            return out
        lam = self.sample_weights(batch_size, seed).view(-1, 1, 1, 1)  # [B, 1, 1, 1]
        for key in self.keys:
            images = out[key]
            partner = torch.roll(images, shifts=1, dims=0)
            # lerp(partner, images, lam) = lam * images + (1 - lam) * partner in one pass
            # (5x faster than the spelled-out expression on CPU).
            out[key] = torch.lerp(partner, images, lam.to(images.dtype))
        return out
