"""Distillation wiring: the frozen teacher generator and the targets it gives the student.

The loss terms themselves (``distill_pixel``, ``distill_content``) are in
:class:`animegan.losses.AnimeGANObjective`; this file only freezes the teacher and runs it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def freeze_teacher(teacher: nn.Module | None) -> nn.Module | None:
    """Freeze ``teacher`` in place (no gradients, eval mode); ``None`` passes through.

    Args:
        teacher: the teacher generator (photo → anime, RGB [-1, 1]) or None (no distillation).

    Returns:
        The same object.
    """
    if teacher is not None:
        teacher.requires_grad_(False).eval()
    return teacher


@torch.no_grad()
def teacher_targets(
    teacher: nn.Module | None, feature_extractor: nn.Module, photo: Tensor
) -> dict[str, Tensor | None]:
    """The teacher's stylization of ``photo`` and its features: the student's distillation targets.

    Args:
        teacher: frozen teacher generator, or None (then both targets are None).
        feature_extractor: the frozen VGG features of the content terms.
        photo: [B, 3, H, W] RGB in [-1, 1].

    Returns:
        ``teacher_anime`` ([B, 3, H, W], float32, [-1, 1]) and ``teacher_features`` (VGG features
        of it), the keyword arguments of ``AnimeGANObjective.generator_loss``; no gradient.
    """
    if teacher is None:
        return {"teacher_anime": None, "teacher_features": None}
    teacher_anime = teacher(photo).float()
    return {"teacher_anime": teacher_anime, "teacher_features": feature_extractor(teacher_anime)}
