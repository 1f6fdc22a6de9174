"""Short fine-tune of a pruned generator towards the unpruned one's outputs on real photos.

Pruning (:mod:`animegan.export.prune`) is never exactly lossless because layer norm normalises
over every channel; distilling the unpruned generator's outputs back into the narrower one for
a few hundred steps recovers part of the difference (figures in ``experiments/pruning/``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from animegan.utils.images import from_uint8_image

__all__ = ["FinetuneReport", "finetune_pruned"]


@dataclass
class FinetuneReport:
    """Outcome of :func:`finetune_pruned`.

    Attributes:
        losses: total loss per step.
        l1_first: mean output L1 to the teacher over the first 10% of steps.
        l1_last: the same over the last 10% of steps.
    """

    losses: list[float]
    l1_first: float
    l1_last: float

    def format(self) -> str:
        """One-line summary."""
        return (
            f"fine-tuned {len(self.losses)} steps: output L1 to the unpruned generator "
            f"{self.l1_first:.4f} -> {self.l1_last:.4f} (first / last 10% of steps)"
        )


def _load_photo_batch_source(photos: Sequence[str | os.PathLike[str]], size: int) -> torch.Tensor:
    from animegan.export.quantize import load_square_photo

    images = [load_square_photo(path, size) for path in photos]
    array = from_uint8_image(np.stack(images))  # [N, H, W, 3] in [-1, 1]
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()  # [N, 3, H, W]


def finetune_pruned(
    student: nn.Module,
    teacher: nn.Module,
    photos: Sequence[str | os.PathLike[str]],
    *,
    steps: int,
    batch_size: int = 4,
    image_size: int = 128,
    lr: float = 1e-4,
    content_weight: float = 0.0,
    vgg: nn.Module | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> FinetuneReport:
    """Train a pruned generator towards the unpruned one's outputs on real photos, in place.

    Objective per step: ``mean|student(photo) - teacher(photo)|`` (outputs in [-1, 1]) plus
    ``content_weight * content_loss(vgg(photo), vgg(student(photo)))`` (the AnimeGANv2
    content term) when ``vgg`` is given. The teacher is frozen and never changes. Photos are
    resized/centre-cropped to ``image_size`` squares once; each step draws a batch (with a
    random horizontal flip) from a local random generator seeded with ``seed``.

    Args:
        student: the pruned generator (trained in place).
        teacher: the unpruned generator.
        photos: photo files (at least one).
        steps: optimisation steps, >= 1.
        batch_size: photos per step.
        image_size: training side in pixels (>= 8; 128 keeps a step ~1 s on 2 CPU cores).
        lr: Adam learning rate (betas 0.5, 0.999 as in AnimeGANv2 training).
        content_weight: weight of the content term; needs ``vgg`` when > 0.
        vgg: frozen feature extractor of RGB in [-1, 1] (``VGG19Features``), or None.
        seed: seed of the batch sampling.
        device: where to train.

    Returns:
        :class:`FinetuneReport`.

    Raises:
        ValueError: no photo, steps < 1, or ``content_weight > 0`` without ``vgg``.
    """
    from animegan.losses.content_style import content_loss

    if not photos:
        raise ValueError("fine-tuning needs at least one photo")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if content_weight > 0 and vgg is None:
        raise ValueError("content_weight > 0 needs a VGG feature extractor (vgg=...)")
    device = torch.device(device)
    pool = _load_photo_batch_source(photos, image_size)
    rng = torch.Generator().manual_seed(seed)
    teacher = teacher.to(device).eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    student = student.to(device).train()
    if vgg is not None:
        vgg = vgg.to(device).eval()
    optimizer = torch.optim.Adam(student.parameters(), lr=lr, betas=(0.5, 0.999))
    losses: list[float] = []
    l1_values: list[float] = []
    for _ in range(steps):
        index = torch.randint(len(pool), (batch_size,), generator=rng)
        photo = pool[index]  # [B, 3, S, S]
        flip = torch.rand(batch_size, generator=rng) < 0.5
        photo = torch.where(flip[:, None, None, None], photo.flip(-1), photo).to(device)
        with torch.no_grad():
            target = teacher(photo)
        fake_anime = student(photo)
        l1 = F.l1_loss(fake_anime, target)
        loss = l1
        if vgg is not None and content_weight > 0:
            with torch.no_grad():
                photo_features = vgg(photo)
            loss = loss + content_weight * content_loss(photo_features, vgg(fake_anime))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        l1_values.append(float(l1.detach()))
    student.eval()
    tail = max(1, steps // 10)
    return FinetuneReport(
        losses=losses,
        l1_first=float(np.mean(l1_values[:tail])),
        l1_last=float(np.mean(l1_values[-tail:])),
    )
