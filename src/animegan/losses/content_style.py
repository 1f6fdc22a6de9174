"""Content and style losses on VGG feature maps (official AnimeGANv2 definitions).

The caller runs the (frozen) VGG; these functions only compare feature tensors, so they can be
tested on tiny hand-written tensors and reused with any feature extractor.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

__all__ = ["content_loss", "gram_matrix", "style_loss"]


def _check_feature_map(name: str, features: Tensor) -> None:
    if features.dim() != 4:
        raise ValueError(f"{name} must be [B, C, H, W], got shape {tuple(features.shape)}")


def gram_matrix(features: Tensor) -> Tensor:
    """Gram matrix of a feature map, normalised by its size: FᵀF / (C·H·W).

    Matches the official ``gram``: per sample, reshape to [H·W, C] and divide by the element
    count of one sample, so the value does not depend on the spatial size.

    Args:
        features: feature map, shape [B, C, H, W], any float dtype.

    Returns:
        Gram matrices, shape [B, C, C], same dtype as ``features``.
    """
    _check_feature_map("features", features)
    b, c, h, w = features.shape
    # Scale before the product (by 1/sqrt(C·H·W) on each side) so the H·W-long sums stay small
    # and cannot overflow under fp16 autocast; the result is FᵀF / (C·H·W) either way.
    flat = features.reshape(b, c, h * w) / math.sqrt(c * h * w)  # [B, C, HW]
    return flat @ flat.transpose(1, 2)  # [B, C, C]


def content_loss(photo_features: Tensor, fake_features: Tensor) -> Tensor:
    """Content loss: mean absolute difference of the photo's and the fake's VGG features.

    Args:
        photo_features: VGG features of the photo, shape [B, C, H, W] (no gradient needed).
        fake_features: VGG features of ``generator(photo)``, same shape; gradients flow here.

    Returns:
        Scalar tensor, mean |photo_features − fake_features| over all elements.
    """
    _check_feature_map("photo_features", photo_features)
    if photo_features.shape != fake_features.shape:
        raise ValueError(
            f"photo_features {tuple(photo_features.shape)} and fake_features "
            f"{tuple(fake_features.shape)} must have the same shape"
        )
    return F.l1_loss(fake_features, photo_features)


def style_loss(anime_gray_features: Tensor, fake_features: Tensor) -> Tensor:
    """Style loss: mean absolute difference of Gram matrices.

    The style target is the *grayscale* anime image, but the fake is compared in colour (as in
    the official code): the features of ``generator(photo)`` must be passed as they are, never
    of a gray copy, and must keep their graph so the term trains the generator.

    Args:
        anime_gray_features: VGG features of the 3-channel gray anime image, shape [B, C, H, W].
        fake_features: VGG features of ``generator(photo)``, shape [B, C, H', W'] (spatial size
            may differ: Gram matrices are size-normalised).

    Returns:
        Scalar tensor, mean |gram(anime_gray_features) − gram(fake_features)|.
    """
    anime_gram = gram_matrix(anime_gray_features)
    fake_gram = gram_matrix(fake_features)
    if anime_gram.shape != fake_gram.shape:
        raise ValueError(
            f"Gram matrices differ in shape: anime_gray {tuple(anime_gram.shape)} vs fake "
            f"{tuple(fake_gram.shape)}; batch size and channel count must match"
        )
    return F.l1_loss(fake_gram, anime_gram)


def pixel_l1_loss(photo: Tensor, fake_anime: Tensor) -> Tensor:
    """Mean absolute pixel difference between a photo and its stylization.

    Args:
        photo: RGB [B, 3, H, W] in [-1, 1].
        fake_anime: same shape and range.

    Returns:
        Scalar in [0, 2]; 0 when the stylization equals the photo.
    """
    if photo.shape != fake_anime.shape:
        raise ValueError(f"shape mismatch: {tuple(photo.shape)} vs {tuple(fake_anime.shape)}")
    return (photo - fake_anime).abs().mean()
