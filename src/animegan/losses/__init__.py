"""Loss functions (pure, on tensors) and the AnimeGANv2 objective that weights them."""

from __future__ import annotations

from animegan.losses.adversarial import (
    ADVERSARIAL_KINDS,
    AdversarialKind,
    check_adversarial_kind,
    discriminator_adversarial_terms,
    generator_adversarial_loss,
)
from animegan.losses.color_tv import color_loss, rgb_to_gray, rgb_to_yuv, total_variation_loss
from animegan.losses.content_style import content_loss, gram_matrix, pixel_l1_loss, style_loss
from animegan.losses.identity import identity_cosine, identity_loss, identity_loss_from_batch
from animegan.losses.objective import (
    AnimeGANObjective,
    DiscriminatorLossWeights,
    GeneratorLossWeights,
)

__all__ = [
    "ADVERSARIAL_KINDS",
    "AdversarialKind",
    "AnimeGANObjective",
    "DiscriminatorLossWeights",
    "GeneratorLossWeights",
    "check_adversarial_kind",
    "color_loss",
    "content_loss",
    "discriminator_adversarial_terms",
    "generator_adversarial_loss",
    "gram_matrix",
    "identity_cosine",
    "identity_loss",
    "identity_loss_from_batch",
    "pixel_l1_loss",
    "rgb_to_gray",
    "rgb_to_yuv",
    "style_loss",
    "total_variation_loss",
]
