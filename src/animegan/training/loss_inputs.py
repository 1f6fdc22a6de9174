"""What the objective's loss terms are computed from: features, logits and targets of one batch.

The module decides which network learns when; the functions here run the networks whose outputs
feed :class:`animegan.losses.AnimeGANObjective` (the frozen VGG features, ArcFace, the teacher,
the discriminator) and return the keyword arguments of the objective's methods. No loss formula
lives here either: that is ``losses/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

from animegan.losses import identity_loss_from_batch
from animegan.training.distillation import teacher_targets


def move_frozen(networks: Iterable[nn.Module | None], device: torch.device) -> None:
    """Move the frozen networks (VGG, ArcFace, teacher; ``None`` = absent) to ``device``, eval mode.

    They are not registered children of the module, so Lightning does not move them itself.
    """
    for network in networks:
        if network is not None:
            network.to(device).eval()


def content_features(
    feature_extractor: nn.Module, photo: Tensor, fake_anime: Tensor
) -> dict[str, Tensor]:
    """VGG features of the photo (no gradient) and of its stylization (gradient to the generator).

    Args:
        feature_extractor: frozen VGG19 conv4_4 features (RGB [-1, 1] in).
        photo: [B, 3, H, W] in [-1, 1].
        fake_anime: ``generator(photo)``, same shape and range, graph kept.

    Returns:
        ``photo_features`` and ``fake_features`` ([B, C, h, w]): the keyword arguments of
        ``AnimeGANObjective.init_loss`` and (with ``photo``/``fake_anime``) of ``photo_terms``.
    """
    with torch.no_grad():
        photo_features = feature_extractor(photo)
    return {"photo_features": photo_features, "fake_features": feature_extractor(fake_anime)}


def discriminator_logits(
    discriminator: nn.Module, images: Mapping[str, Tensor], fake_anime: Tensor
) -> dict[str, Tensor]:
    """The discriminator's logits on anime, fake anime, anime gray and smoothed anime gray.

    One batched call over the four inputs: GroupNorm is per-sample, so this equals four calls,
    and spectral norm runs one power iteration per step instead of four.

    Args:
        discriminator: the patch critic (returns logits).
        images: the batch, with ``anime``, ``anime_gray`` and ``anime_smooth_gray``
            [B, 3, H, W] in [-1, 1].
        fake_anime: the generator's output for the batch's photos (detached for the D step).

    Returns:
        ``logits_anime``, ``logits_fake``, ``logits_anime_gray``, ``logits_anime_smooth_gray``
        ([B, 1, h, w] each): the keyword arguments of ``AnimeGANObjective.discriminator_loss``.
    """
    inputs = [images["anime"], fake_anime, images["anime_gray"], images["anime_smooth_gray"]]
    logits = discriminator(torch.cat(inputs)).chunk(4)
    names = ("logits_anime", "logits_fake", "logits_anime_gray", "logits_anime_smooth_gray")
    return dict(zip(names, logits, strict=True))


def generator_loss_inputs(
    images: Mapping[str, Tensor],
    fake_anime: Tensor,
    feature_extractor: nn.Module,
    *,
    arcface: nn.Module | None = None,
    teacher: nn.Module | None = None,
) -> dict[str, Tensor | None]:
    """Everything ``AnimeGANObjective.generator_loss`` needs except the discriminator's logits.

    Args:
        images: the batch: ``photo`` and ``anime_gray`` [B, 3, H, W] in [-1, 1]; with
            ``arcface`` also ``landmarks`` [B, 5, 2] and ``has_face`` [B].
        fake_anime: ``generator(photo)``, graph kept.
        feature_extractor: frozen VGG19 conv4_4 features.
        arcface: frozen face-embedding network of the identity term, or None (no identity term).
        teacher: frozen teacher generator of the distillation terms, or None (no distillation).

    Returns:
        ``photo``, ``fake_anime``, ``photo_features``, ``anime_gray_features``,
        ``teacher_anime``, ``teacher_features`` (None without a teacher), ``identity``
        (None without ArcFace) and ``fake_features`` (graph kept).
    """
    with torch.no_grad():
        photo_features = feature_extractor(images["photo"])
        anime_gray_features = feature_extractor(images["anime_gray"])
    targets = teacher_targets(teacher, feature_extractor, images["photo"])
    identity = None
    if arcface is not None:
        identity = identity_loss_from_batch(arcface, images, fake_anime)
    return {
        "photo": images["photo"],
        "fake_anime": fake_anime,
        "photo_features": photo_features,
        "anime_gray_features": anime_gray_features,
        **targets,
        "identity": identity,
        "fake_features": feature_extractor(fake_anime),
    }
