"""Adversarial losses for the AnimeGAN discriminator (four inputs) and generator.

The discriminator sees the anime image as real and three things as fake: the generated image,
the grayscale anime image (teaches D that colour is part of the style) and the edge-smoothed
grayscale anime image (teaches D that crisp edges are). Terms are returned unweighted; weighting
lives in :mod:`animegan.losses.objective`.
"""

from __future__ import annotations

from typing import Literal, cast, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ADVERSARIAL_KINDS",
    "AdversarialKind",
    "check_adversarial_kind",
    "discriminator_adversarial_terms",
    "generator_adversarial_loss",
]

AdversarialKind = Literal["lsgan", "hinge", "bce"]
ADVERSARIAL_KINDS: tuple[str, ...] = get_args(AdversarialKind)


def check_adversarial_kind(kind: str) -> AdversarialKind:
    """Validate an adversarial loss name.

    Args:
        kind: one of ``"lsgan"`` (official default), ``"hinge"``, ``"bce"``.

    Returns:
        ``kind`` unchanged.

    Raises:
        ValueError: for any other value, listing the allowed ones.
    """
    if kind not in ADVERSARIAL_KINDS:
        raise ValueError(
            f"unknown adversarial loss kind {kind!r}; allowed: {', '.join(ADVERSARIAL_KINDS)}"
        )
    return cast(AdversarialKind, kind)


def _anime_term(kind: AdversarialKind, logits: Tensor) -> Tensor:
    if kind == "lsgan":
        return (logits - 1.0).square().mean()
    if kind == "hinge":
        return F.relu(1.0 - logits).mean()
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def _fake_term(kind: AdversarialKind, logits: Tensor) -> Tensor:
    if kind == "lsgan":
        return logits.square().mean()
    if kind == "hinge":
        return F.relu(1.0 + logits).mean()
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


def discriminator_adversarial_terms(
    kind: AdversarialKind,
    logits_anime: Tensor,
    logits_fake: Tensor,
    logits_anime_gray: Tensor,
    logits_anime_smooth_gray: Tensor,
) -> dict[str, Tensor]:
    """The four unweighted discriminator terms.

    - lsgan: mean((D(anime) − 1)²), mean(D(x)²) for each fake-labelled x.
    - hinge: mean(relu(1 − D(anime))), mean(relu(1 + D(x))).
    - bce: BCE-with-logits, target 1 for anime, 0 for the others.

    Args:
        kind: adversarial loss name (see :data:`AdversarialKind`).
        logits_anime: D(anime), raw patch logits, shape [B, 1, h, w].
        logits_fake: D(generator(photo)) with the fake detached for the D step, same layout.
        logits_anime_gray: D(anime_gray).
        logits_anime_smooth_gray: D(anime_smooth_gray).

    Returns:
        Dict with scalar tensors ``"anime"`` (the term labelled real), ``"fake"``, ``"gray"``,
        ``"smooth"``.

    Raises:
        ValueError: if ``kind`` is unknown.
    """
    kind = check_adversarial_kind(kind)
    return {
        "anime": _anime_term(kind, logits_anime),
        "fake": _fake_term(kind, logits_fake),
        "gray": _fake_term(kind, logits_anime_gray),
        "smooth": _fake_term(kind, logits_anime_smooth_gray),
    }


def generator_adversarial_loss(kind: AdversarialKind, logits_fake: Tensor) -> Tensor:
    """Unweighted generator adversarial loss.

    - lsgan: mean((D(G(photo)) − 1)²).
    - hinge: −mean(D(G(photo))).
    - bce: non-saturating, BCE-with-logits against target 1.

    Args:
        kind: adversarial loss name (see :data:`AdversarialKind`).
        logits_fake: D(generator(photo)), raw patch logits [B, 1, h, w], graph kept to G.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: if ``kind`` is unknown.
    """
    kind = check_adversarial_kind(kind)
    if kind == "lsgan":
        return (logits_fake - 1.0).square().mean()
    if kind == "hinge":
        return -logits_fake.mean()
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))
