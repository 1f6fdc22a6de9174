"""Post-processing of stylised images and style-strength blending (uint8 RGB in, uint8 out).

All functions take and return ``[H, W, 3]`` uint8 RGB arrays and never modify their input.
Defaults are conservative: each step is meant to clean up GAN output, not to restyle it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "PostProcess",
    "apply_postprocess",
    "bilateral_smooth",
    "blend_strength",
    "gray_world_white_balance",
    "match_brightness",
    "mean_luma",
    "unsharp_mask",
]

# ITU-R BT.601 luma weights of R, G, B (the official tools/adjust_brightness.py).
LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


def _check_rgb_uint8(image: np.ndarray, name: str = "image") -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be [H, W, 3] uint8, got {image.dtype} {image.shape}")


def bilateral_smooth(
    image: np.ndarray,
    *,
    diameter: int = 7,
    sigma_color: float = 30.0,
    sigma_space: float = 5.0,
) -> np.ndarray:
    """Edge-preserving smoothing (OpenCV bilateral filter): flattens GAN speckle, keeps lines.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        diameter: neighbourhood diameter in pixels (odd, >= 1).
        sigma_color: intensity sigma in uint8 levels; differences well above it are edges
            and are not smoothed across.
        sigma_space: spatial sigma in pixels.

    Returns:
        ``[H, W, 3]`` uint8 RGB.
    """
    _check_rgb_uint8(image)
    return cv2.bilateralFilter(np.ascontiguousarray(image), diameter, sigma_color, sigma_space)


def gray_world_white_balance(image: np.ndarray, *, max_gain: float = 2.0) -> np.ndarray:
    """Gray-world white balance: scale each channel so the three channel means are equal.

    Each channel c is multiplied by ``gray / mean_c`` where ``gray`` is the mean of the three
    channel means, so overall brightness is kept; gains are clipped to
    ``[1 / max_gain, max_gain]`` so a nearly single-coloured image is not blown out.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        max_gain: largest factor any channel may be scaled by (>= 1).

    Returns:
        ``[H, W, 3]`` uint8 RGB (rounded, clipped to 0..255).
    """
    _check_rgb_uint8(image)
    if max_gain < 1:
        raise ValueError(f"max_gain must be >= 1, got {max_gain}")
    means = image.reshape(-1, 3).mean(axis=0, dtype=np.float64)  # [3]
    gray = means.mean()
    gains = np.clip(gray / np.maximum(means, 1e-6), 1.0 / max_gain, max_gain)
    balanced = image.astype(np.float32) * gains.astype(np.float32)
    return np.clip(np.rint(balanced), 0, 255).astype(np.uint8)


def unsharp_mask(
    image: np.ndarray, *, sigma: float = 1.0, amount: float = 0.5, threshold: int = 0
) -> np.ndarray:
    """Sharpen by adding back the difference to a Gaussian blur: ``x + amount * (x - blur(x))``.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        sigma: Gaussian sigma in pixels (the size of detail that is boosted).
        amount: gain of the detail, 0 = unchanged; 0.5 is mild, 1.5 strong.
        threshold: pixels whose detail ``|x - blur(x)|`` is at most this (uint8 levels) are
            left unchanged, so flat areas do not gain noise.

    Returns:
        ``[H, W, 3]`` uint8 RGB.
    """
    _check_rgb_uint8(image)
    source = image.astype(np.float32)
    blurred = cv2.GaussianBlur(source, (0, 0), sigmaX=sigma, sigmaY=sigma)
    detail = source - blurred
    sharpened = source + amount * detail
    if threshold > 0:
        sharpened = np.where(np.abs(detail) > threshold, sharpened, source)
    return np.clip(np.rint(sharpened), 0, 255).astype(np.uint8)


def mean_luma(image: np.ndarray) -> float:
    """Mean luma ``0.299 R + 0.587 G + 0.114 B`` of an RGB image, in uint8 levels (0..255).

    Computed as the official tool does, from the three channel means (float64).

    Args:
        image: ``[H, W, 3]`` uint8 RGB.

    Returns:
        Mean luma in [0, 255].
    """
    _check_rgb_uint8(image)
    means = image.reshape(-1, 3).mean(axis=0, dtype=np.float64)  # [3] R, G, B
    return float(np.dot(LUMA_WEIGHTS, means))


def match_brightness(stylized: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """Scale a stylised image so its mean luma equals the photo's (official post-processing).

    As ``adjust_brightness_from_src_to_dst`` of the official ``tools/adjust_brightness.py``:
    every channel of every pixel is multiplied by ``mean_luma(photo) / mean_luma(stylized)``,
    clipped to 0..255 and truncated to uint8 (the official ``np.uint8`` cast, not rounding), so
    outputs are byte-identical to the official tool's. Clipping and truncation can leave the
    result's mean luma slightly below the photo's (by < 1 level without clipping). The means
    are of whole images: the pipeline applies this after tiles are assembled.

    Args:
        stylized: ``[H, W, 3]`` uint8 RGB, the generator's output.
        photo: ``[h, w, 3]`` uint8 RGB, the input photo (its size may differ).

    Returns:
        ``[H, W, 3]`` uint8 RGB. An all-black ``stylized`` (mean luma 0, no factor exists) is
        returned unchanged as a copy.
    """
    _check_rgb_uint8(stylized, "stylized")
    _check_rgb_uint8(photo, "photo")
    stylized_luma = mean_luma(stylized)
    if stylized_luma == 0.0:
        return stylized.copy()
    factor = mean_luma(photo) / stylized_luma
    scaled = stylized.astype(np.float64) * factor
    return np.clip(scaled, 0, 255).astype(np.uint8)


def blend_strength(photo: np.ndarray, stylized: np.ndarray, strength: float) -> np.ndarray:
    """Blend photo and stylised image: ``strength * stylized + (1 - strength) * photo``.

    Args:
        photo: ``[H, W, 3]`` uint8 RGB, the input.
        stylized: ``[H, W, 3]`` uint8 RGB, same shape.
        strength: style strength in [0, 1]; 0 returns an exact copy of ``photo``, 1 an exact
            copy of ``stylized``.

    Returns:
        ``[H, W, 3]`` uint8 RGB.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    if photo.shape != stylized.shape:
        raise ValueError(f"shapes differ: photo {photo.shape}, stylized {stylized.shape}")
    if strength == 0.0:
        return photo.copy()
    if strength == 1.0:
        return stylized.copy()
    mixed = strength * stylized.astype(np.float32) + (1.0 - strength) * photo.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class PostProcess:
    """Which post-processing steps run, and their parameters.

    Steps run in this order: bilateral, white balance, unsharp, brightness matching.

    All are off by default (the generator's output is returned as is). Parameters are those of
    :func:`bilateral_smooth`, :func:`gray_world_white_balance` and :func:`unsharp_mask`.
    ``match_brightness`` (:func:`match_brightness`, needs the photo) runs last, so the image
    that is written (before strength blending, which keeps the mean luma) has the photo's mean
    luma whatever the earlier steps did to it.
    """

    bilateral: bool = False
    white_balance: bool = False
    unsharp: bool = False
    bilateral_diameter: int = 7
    bilateral_sigma_color: float = 30.0
    bilateral_sigma_space: float = 5.0
    white_balance_max_gain: float = 2.0
    unsharp_sigma: float = 1.0
    unsharp_amount: float = 0.5
    unsharp_threshold: int = 0
    match_brightness: bool = False

    @property
    def enabled(self) -> bool:
        """True when at least one step runs."""
        return self.bilateral or self.white_balance or self.unsharp or self.match_brightness


def apply_postprocess(
    image: np.ndarray, post: PostProcess, photo: np.ndarray | None = None
) -> np.ndarray:
    """Run the enabled steps of ``post`` on a stylised image.

    Args:
        image: ``[H, W, 3]`` uint8 RGB, the whole stylised image.
        post: which steps run and their parameters.
        photo: ``[H, W, 3]`` uint8 RGB, the photo ``image`` was made from; needed only by
            ``post.match_brightness``.

    Returns:
        ``[H, W, 3]`` uint8 RGB (``image`` itself when no step is enabled).

    Raises:
        ValueError: ``post.match_brightness`` without ``photo``.
    """
    if post.match_brightness and photo is None:
        raise ValueError("match_brightness needs the photo: pass apply_postprocess(..., photo=)")
    if post.bilateral:
        image = bilateral_smooth(
            image,
            diameter=post.bilateral_diameter,
            sigma_color=post.bilateral_sigma_color,
            sigma_space=post.bilateral_sigma_space,
        )
    if post.white_balance:
        image = gray_world_white_balance(image, max_gain=post.white_balance_max_gain)
    if post.unsharp:
        image = unsharp_mask(
            image,
            sigma=post.unsharp_sigma,
            amount=post.unsharp_amount,
            threshold=post.unsharp_threshold,
        )
    if post.match_brightness:
        image = match_brightness(image, photo)
    return image
