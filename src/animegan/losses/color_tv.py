"""Colour (YUV) loss, total-variation loss and RGB colour conversions.

All images are RGB, NCHW, with values in [-1, 1] (the generator's tanh range).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["color_loss", "rgb_to_gray", "rgb_to_yuv", "total_variation_loss"]

# Rows Y, U, V; columns R, G, B. These are tf.image.rgb_to_yuv's coefficients, which the official
# colour loss uses (BT.601 luma, analog U/V scaling).
_Y_WEIGHTS = (0.299, 0.587, 0.114)
_U_WEIGHTS = (-0.14714119, -0.28886916, 0.43601035)
_V_WEIGHTS = (0.61497538, -0.51496512, -0.10001026)

# ITU-R BT.601 luma in RGB order (what OpenCV's COLOR_RGB2GRAY uses). Applying BGR-ordered
# weights to an RGB tensor is a known bug of public ports: red would get 0.114.
_GRAY_WEIGHTS = _Y_WEIGHTS


def _check_rgb(name: str, image: Tensor) -> None:
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"{name} must be RGB [B, 3, H, W], got shape {tuple(image.shape)}")


def _weighted_channels(rgb: Tensor, weights: tuple[float, float, float]) -> Tensor:
    # [B, 3, H, W] -> [B, 1, H, W]
    return weights[0] * rgb[:, 0:1] + weights[1] * rgb[:, 1:2] + weights[2] * rgb[:, 2:3]


def rgb_to_yuv(image: Tensor) -> Tensor:
    """Convert an RGB image in [-1, 1] to YUV, as the official colour loss does.

    The image is first mapped to [0, 1]; then Y = .299R + .587G + .114B,
    U = −.14714119R − .28886916G + .43601035B, V = .61497538R − .51496512G − .10001026B.

    Args:
        image: RGB image, shape [B, 3, H, W], values in [-1, 1].

    Returns:
        YUV image, shape [B, 3, H, W] (channels Y, U, V); Y in [0, 1], U in about ±0.436,
        V in about ±0.615.
    """
    _check_rgb("image", image)
    rgb = (image + 1.0) / 2.0  # [-1, 1] -> [0, 1]
    return torch.cat(
        [
            _weighted_channels(rgb, _Y_WEIGHTS),
            _weighted_channels(rgb, _U_WEIGHTS),
            _weighted_channels(rgb, _V_WEIGHTS),
        ],
        dim=1,
    )


def rgb_to_gray(image: Tensor) -> Tensor:
    """Luma of an RGB image, copied to three channels (the official ``anime_gray`` input).

    Uses the RGB-ordered weights (0.299, 0.587, 0.114). The weights sum to 1, so the result is
    the same whether computed in [-1, 1] or in [0, 1] and mapped back; no rescaling is needed.

    Args:
        image: RGB image, shape [B, 3, H, W], values in [-1, 1] (any range works: it is linear).

    Returns:
        Gray image, shape [B, 3, H, W], the three channels identical, same range as the input.
    """
    _check_rgb("image", image)
    return _weighted_channels(image, _GRAY_WEIGHTS).repeat(1, 3, 1, 1)


def color_loss(photo: Tensor, fake_anime: Tensor) -> Tensor:
    """Colour loss: L1 on Y plus Huber (δ = 1) on U and on V, each averaged over its elements.

    Keeps the fake's colours close to the photo's while the style terms act on texture.

    Args:
        photo: input photo, RGB [B, 3, H, W] in [-1, 1].
        fake_anime: ``generator(photo)``, same shape and range.

    Returns:
        Scalar tensor: mean|ΔY| + huber(ΔU) + huber(ΔV).
    """
    if photo.shape != fake_anime.shape:
        raise ValueError(
            f"photo {tuple(photo.shape)} and fake_anime {tuple(fake_anime.shape)} must have "
            "the same shape"
        )
    photo_yuv = rgb_to_yuv(photo)  # [B, 3, H, W], channel dim 1 holds Y, U, V
    fake_yuv = rgb_to_yuv(fake_anime)
    y_term = F.l1_loss(fake_yuv[:, 0], photo_yuv[:, 0])
    u_term = F.huber_loss(fake_yuv[:, 1], photo_yuv[:, 1], delta=1.0)
    v_term = F.huber_loss(fake_yuv[:, 2], photo_yuv[:, 2], delta=1.0)
    return y_term + u_term + v_term


def total_variation_loss(image: Tensor) -> Tensor:
    """Total-variation (smoothness) loss: 0.5·mean(dh²) + 0.5·mean(dw²).

    The official TF code computes ``tf.nn.l2_loss(dh) / tf.size(dh) + tf.nn.l2_loss(dw) /
    tf.size(dw)``; ``l2_loss(x)`` is ``sum(x²) / 2``, so each term is half the *mean* squared
    neighbour difference (normalised by the number of differences, not a raw sum). This
    reproduces it exactly, so the official ``tv_weight`` values keep their meaning.

    Args:
        image: image, shape [B, C, H, W] with H ≥ 2 and W ≥ 2, values in [-1, 1] for the
            official scale.

    Returns:
        Scalar tensor; 0 for a constant image.
    """
    if image.dim() != 4 or image.shape[2] < 2 or image.shape[3] < 2:
        raise ValueError(
            f"image must be [B, C, H, W] with H, W >= 2, got shape {tuple(image.shape)}"
        )
    dh = image[:, :, 1:, :] - image[:, :, :-1, :]  # [B, C, H-1, W]
    dw = image[:, :, :, 1:] - image[:, :, :, :-1]  # [B, C, H, W-1]
    return 0.5 * dh.square().mean() + 0.5 * dw.square().mean()
