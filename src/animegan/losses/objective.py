"""AnimeGANv2 objective: the one place where loss terms are weighted and summed.

The defaults are what the official code runs (TachibanaYoshino/AnimeGANv2 ``train.py`` defaults
and the discriminator line of ``tools/ops.py``): content 1.5, style 2.5, colour 10, tv 1,
adversarial 300; D scale 300 with weights 1.7 (anime), 1.7 (fake), 1.7 (gray), 1.0 (smooth). The
per-style presets, with the source of every number, are the YAMLs in ``conf/loss/``.

Generator total = adversarial·g_adv + content·content + style·style + color·color + tv·tv
(+ identity, pixel, distill_pixel and distill_content where their weights are > 0).
Discriminator total = scale·(anime·d_anime + fake·d_fake + gray·d_gray + smooth·d_smooth).
Init phase total = init_content_weight·content (defaults to the generator's content weight)
(+ init_pixel_weight·mean|fake − photo| where > 0: not in the official code; the quickstart uses it
so a few minutes on a CPU reconstruct the photos before the GAN phase starts).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from torch import Tensor

from animegan.losses.adversarial import (
    AdversarialKind,
    check_adversarial_kind,
    discriminator_adversarial_terms,
    generator_adversarial_loss,
)
from animegan.losses.color_tv import color_loss, total_variation_loss
from animegan.losses.content_style import content_loss, pixel_l1_loss, style_loss

__all__ = ["AnimeGANObjective", "DiscriminatorLossWeights", "GeneratorLossWeights"]


def _check_weight(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{owner}.{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}.{name} must be finite and >= 0, got {value!r}")


@dataclass(frozen=True)
class GeneratorLossWeights:
    """Weights of the generator's loss terms (defaults: the official code's ``train.py``).

    Attributes:
        adversarial: weight of the generator adversarial term (official 300).
        content: weight of the VGG content (L1) term.
        style: weight of the Gram-matrix style term.
        color: weight of the YUV colour term.
        tv: weight of the total-variation term.
        identity: weight of the ArcFace identity term (0 = off; needs an ArcFace model and
            landmarks in the batch).
        pixel: weight of the pixel L1 term mean|fake − photo| (0 = off; face fine-tuning).
        distill_pixel: weight of mean|fake − teacher(photo)| (0 = off; distillation: needs a
            teacher's output).
        distill_content: weight of the L1 of the VGG features of fake and teacher(photo)
            (0 = off; distillation).
    """

    adversarial: float = 300.0
    content: float = 1.5
    style: float = 2.5
    color: float = 10.0
    tv: float = 1.0
    identity: float = 0.0
    pixel: float = 0.0
    distill_pixel: float = 0.0
    distill_content: float = 0.0

    def __post_init__(self) -> None:
        for field in fields(self):
            _check_weight(type(self).__name__, field.name, getattr(self, field.name))


@dataclass(frozen=True)
class DiscriminatorLossWeights:
    """Weights of the discriminator's loss terms (defaults: the line ``tools/ops.py`` runs).

    Attributes:
        scale: overall multiplier of the weighted sum (official ``d_adv_weight`` 300).
        anime: weight of the anime term (the one D should call real; ``real`` before 2026-12).
        fake: weight of the generated-image term.
        gray: weight of the grayscale-anime term.
        smooth: weight of the edge-smoothed grayscale-anime term.
    """

    scale: float = 300.0
    anime: float = 1.7
    fake: float = 1.7
    gray: float = 1.7
    smooth: float = 1.0

    def __post_init__(self) -> None:
        for field in fields(self):
            _check_weight(type(self).__name__, field.name, getattr(self, field.name))


_Weights = TypeVar("_Weights", GeneratorLossWeights, DiscriminatorLossWeights)

# Keys renamed in the weight mappings: old name -> new name (old configs and checkpoints still load).
_RENAMED_KEYS: dict[type, dict[str, str]] = {DiscriminatorLossWeights: {"real": "anime"}}


def _renamed(cls: type, value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` with deprecated keys renamed (and a warning naming each)."""
    renames = _RENAMED_KEYS.get(cls, {})
    out: dict[str, Any] = {}
    for key, item in value.items():
        new = renames.get(str(key))
        if new is not None:
            if new in value:
                raise TypeError(f"{cls.__name__}: give {new!r} or its old name {key!r}, not both")
            warnings.warn(
                f"{cls.__name__} key {key!r} is deprecated; call it {new!r} "
                f"(e.g. loss.discriminator_weights.{new}=...)",
                DeprecationWarning,
                stacklevel=4,
            )
            key = new
        out[str(key)] = item
    return out


def _as_weights(cls: type[_Weights], value: _Weights | Mapping[str, Any]) -> _Weights:
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        value = _renamed(cls, value)
        allowed = [field.name for field in fields(cls)]
        unknown = [key for key in value if key not in allowed]
        if unknown:
            raise TypeError(
                f"unknown {cls.__name__} key {unknown[0]!r}; allowed: {', '.join(allowed)}"
            )
        return cls(**{str(key): item for key, item in value.items()})
    raise TypeError(f"expected {cls.__name__} or a mapping, got {type(value).__name__}")


def _weighted_sum(pairs: list[tuple[float, Tensor]]) -> Tensor:
    # Zero-weight terms are left out rather than multiplied by 0, so a term that is NaN or inf
    # (e.g. an experimental one switched off) cannot poison the total, and builds no graph.
    used = [(weight, term) for weight, term in pairs if weight != 0]
    if not used:
        return pairs[0][1].new_zeros(())
    total = used[0][0] * used[0][1]
    for weight, term in used[1:]:
        total = total + weight * term
    return total


class AnimeGANObjective:
    """Weighted AnimeGANv2 losses for the init, discriminator and generator phases.

    Holds only weights and the adversarial kind; networks (G, D, VGG) are run by the caller,
    which passes their outputs in. Returned term dicts hold live tensors (the caller detaches
    them for logging).

    Args:
        generator_weights: :class:`GeneratorLossWeights` or a mapping of its fields.
        discriminator_weights: :class:`DiscriminatorLossWeights` or a mapping of its fields.
        adversarial: ``"lsgan"`` (official), ``"hinge"`` or ``"bce"``.
        init_content_weight: content weight of the init (pre-training) phase; ``None`` uses
            ``generator_weights.content`` as the official code does.
        init_pixel_weight: weight of a pixel L1 term mean|fake − photo| (photo units, [-1, 1]
            images) in the init phase only; 0 (default, official) = off.

    Raises:
        TypeError: a weights mapping has an unknown key, or a weight is not a number.
        ValueError: unknown adversarial kind, or a negative/non-finite weight.
    """

    def __init__(
        self,
        generator_weights: GeneratorLossWeights | Mapping[str, Any],
        discriminator_weights: DiscriminatorLossWeights | Mapping[str, Any],
        adversarial: AdversarialKind = "lsgan",
        init_content_weight: float | None = None,
        init_pixel_weight: float = 0.0,
    ) -> None:
        self.generator_weights = _as_weights(GeneratorLossWeights, generator_weights)
        self.discriminator_weights = _as_weights(DiscriminatorLossWeights, discriminator_weights)
        self.adversarial: AdversarialKind = check_adversarial_kind(adversarial)
        if init_content_weight is None:
            init_content_weight = self.generator_weights.content
        _check_weight(type(self).__name__, "init_content_weight", init_content_weight)
        self.init_content_weight = float(init_content_weight)
        _check_weight(type(self).__name__, "init_pixel_weight", init_pixel_weight)
        self.init_pixel_weight = float(init_pixel_weight)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(generator_weights={self.generator_weights}, "
            f"discriminator_weights={self.discriminator_weights}, "
            f"adversarial={self.adversarial!r}, init_content_weight={self.init_content_weight}, "
            f"init_pixel_weight={self.init_pixel_weight})"
        )

    @property
    def needs_teacher(self) -> bool:
        """True when a distillation weight is > 0, so the generator loss needs a teacher output."""
        weights = self.generator_weights
        return weights.distill_pixel > 0 or weights.distill_content > 0

    def init_loss(
        self,
        photo_features: Tensor,
        fake_features: Tensor,
        *,
        photo: Tensor | None = None,
        fake_anime: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Init-phase loss: weighted content loss (no adversary, no style), plus pixel L1 if set.

        Args:
            photo_features: VGG features of the photo, [B, C, H, W].
            fake_features: VGG features of ``generator(photo)``, same shape.
            photo: RGB [B, 3, H, W] in [-1, 1]; needed when ``init_pixel_weight > 0``.
            fake_anime: ``generator(photo)``, same shape and range; needed likewise.

        Returns:
            ``(total, {"init_content": unweighted content loss})``, plus ``"init_pixel"`` when
            ``init_pixel_weight > 0``; scalar tensors.

        Raises:
            ValueError: ``init_pixel_weight > 0`` but ``photo`` or ``fake_anime`` is missing.
        """
        content = content_loss(photo_features, fake_features)
        terms = {"init_content": content}
        pairs = [(self.init_content_weight, content)]
        if self.init_pixel_weight > 0:
            if photo is None or fake_anime is None:
                raise ValueError("init_pixel_weight > 0 needs photo and fake_anime in init_loss")
            terms["init_pixel"] = pixel_l1_loss(photo, fake_anime)
            pairs.append((self.init_pixel_weight, terms["init_pixel"]))
        return _weighted_sum(pairs), terms

    def photo_terms(
        self, *, photo: Tensor, fake_anime: Tensor, photo_features: Tensor, fake_features: Tensor
    ) -> dict[str, Tensor]:
        """Unweighted terms that need only the photo and its stylization (validation, no anime).

        Args:
            photo: RGB [B, 3, H, W] in [-1, 1].
            fake_anime: ``generator(photo)``, same shape and range.
            photo_features: VGG features of the photo, [B, C, h, w].
            fake_features: VGG features of ``fake_anime``, same shape.

        Returns:
            ``{"content", "color", "tv"}`` scalar tensors: how much content and colour the
            stylization keeps, and how smooth it is; lower keeps more of the photo.
        """
        return {
            "content": content_loss(photo_features, fake_features),
            "color": color_loss(photo, fake_anime),
            "tv": total_variation_loss(fake_anime),
        }

    def generator_loss(
        self,
        *,
        photo: Tensor,
        fake_anime: Tensor,
        photo_features: Tensor,
        fake_features: Tensor,
        anime_gray_features: Tensor,
        logits_fake: Tensor,
        identity: Tensor | None = None,
        teacher_anime: Tensor | None = None,
        teacher_features: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Generator loss of the adversarial phase.

        Args:
            photo: input photo, RGB [B, 3, H, W] in [-1, 1].
            fake_anime: ``generator(photo)``, same shape and range, graph kept.
            photo_features: VGG features of ``photo``, [B, C, h, w].
            fake_features: VGG features of ``fake_anime`` (colour, not gray), graph kept.
            anime_gray_features: VGG features of the gray anime batch, [B, C, h', w'].
            logits_fake: D(fake_anime), raw logits [B, 1, h'', w''], graph kept to G.
            identity: precomputed identity loss (1 − cos of ArcFace embeddings, in [0, 2]),
                or None when no ArcFace model is configured.
            teacher_anime: a frozen teacher generator's output for ``photo`` (distillation),
                same shape and range as ``fake_anime``, no graph; None without a teacher.
            teacher_features: VGG features of ``teacher_anime``, shape of ``fake_features``;
                given together with ``teacher_anime``.

        Returns:
            ``(total, terms)``: terms ``"g_adv"``, ``"content"``, ``"style"``, ``"color"``,
            ``"tv"``, ``"pixel"``, ``"identity"`` (when given), ``"distill_pixel"`` and
            ``"distill_content"`` (when a teacher output is given) (unweighted) and
            ``"g_total"`` (the weighted sum, same tensor as total).

        Raises:
            ValueError: only one of ``teacher_anime``/``teacher_features`` is given, or a
                distill weight is > 0 and no teacher output is.
        """
        weights = self.generator_weights
        if (teacher_anime is None) != (teacher_features is None):
            raise ValueError("give teacher_anime and teacher_features together, or neither")
        if teacher_anime is None and self.needs_teacher:
            raise ValueError(
                "loss.generator_weights.distill_pixel/distill_content > 0 need a teacher "
                "generator: set module.teacher (see experiment=distill_lite)"
            )
        terms = {
            "g_adv": generator_adversarial_loss(self.adversarial, logits_fake),
            "content": content_loss(photo_features, fake_features),
            "style": style_loss(anime_gray_features, fake_features),
            "color": color_loss(photo, fake_anime),
            "tv": total_variation_loss(fake_anime),
            "pixel": pixel_l1_loss(photo, fake_anime),
        }
        pairs = [
            (weights.adversarial, terms["g_adv"]),
            (weights.content, terms["content"]),
            (weights.style, terms["style"]),
            (weights.color, terms["color"]),
            (weights.tv, terms["tv"]),
            (weights.pixel, terms["pixel"]),
        ]
        if identity is not None:
            terms["identity"] = identity
            pairs.append((weights.identity, identity))
        if teacher_anime is not None and teacher_features is not None:
            # The teacher's output is the target: same L1 helpers as pixel and content.
            terms["distill_pixel"] = pixel_l1_loss(teacher_anime, fake_anime)
            terms["distill_content"] = content_loss(teacher_features, fake_features)
            pairs.append((weights.distill_pixel, terms["distill_pixel"]))
            pairs.append((weights.distill_content, terms["distill_content"]))
        total = _weighted_sum(pairs)
        terms["g_total"] = total
        return total, terms

    def discriminator_loss(
        self,
        *,
        logits_anime: Tensor,
        logits_fake: Tensor,
        logits_anime_gray: Tensor,
        logits_anime_smooth_gray: Tensor,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Discriminator loss: scale · (w_a·anime + w_f·fake + w_g·gray + w_s·smooth).

        Args:
            logits_anime: D(anime), raw logits [B, 1, h, w].
            logits_fake: D(fake_anime) computed from a *detached* fake, so G gets no gradient.
            logits_anime_gray: D(anime_gray).
            logits_anime_smooth_gray: D(anime_smooth_gray).

        Returns:
            ``(total, terms)``: terms ``"d_anime"``, ``"d_fake"``, ``"d_gray"``, ``"d_smooth"``
            (unweighted) and ``"d_total"`` (same tensor as total).
        """
        weights = self.discriminator_weights
        raw = discriminator_adversarial_terms(
            self.adversarial,
            logits_anime=logits_anime,
            logits_fake=logits_fake,
            logits_anime_gray=logits_anime_gray,
            logits_anime_smooth_gray=logits_anime_smooth_gray,
        )
        weighted = _weighted_sum(
            [
                (weights.anime, raw["anime"]),
                (weights.fake, raw["fake"]),
                (weights.gray, raw["gray"]),
                (weights.smooth, raw["smooth"]),
            ]
        )
        total = weights.scale * weighted
        terms = {f"d_{name}": value for name, value in raw.items()}
        terms["d_total"] = total
        return total, terms
