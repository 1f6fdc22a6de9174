"""Identity metric: how similar the stylized face is to the photo's face, by ArcFace cosine.

Used by evaluation (``make eval``) and training callbacks through :func:`identity_similarity`;
the per-image values come from the same crop and backbone as the identity loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from animegan.faces.alignment import arcface_crops

__all__ = ["IdentityStats", "identity_cosines", "identity_similarity", "summarize_cosines"]


@dataclass(frozen=True)
class IdentityStats:
    """Summary of photo-vs-stylized ArcFace cosine similarities over the faces of a set.

    Attributes:
        mean: mean cosine similarity in [-1, 1] (higher keeps identity better); NaN if no face.
        std: standard deviation of the cosines (0 for a single face).
        quantiles: cosine at the 5th, 25th, 50th, 75th and 95th percentiles.
        share_below: fraction of faces in [0, 1] whose cosine is under ``threshold``.
        threshold: the threshold used for ``share_below``.
        count: number of faces that entered the statistics.
        cosines: float32 [count] per-face cosines (for histograms).
    """

    mean: float
    std: float
    quantiles: dict[str, float]
    share_below: float
    threshold: float
    count: int
    cosines: Tensor

    def as_dict(self, prefix: str = "identity/") -> dict[str, float]:
        """Flat scalars for loggers: ``{prefix}mean``, ``{prefix}share_below_<t>``, ..."""
        scalars = {
            f"{prefix}mean": self.mean,
            f"{prefix}std": self.std,
            f"{prefix}share_below_{self.threshold:g}": self.share_below,
            f"{prefix}count": float(self.count),
        }
        scalars |= {f"{prefix}{name}": value for name, value in self.quantiles.items()}
        return scalars


@torch.no_grad()
def identity_cosines(
    arcface: nn.Module, photo: Tensor, fake_anime: Tensor, landmarks: Tensor
) -> Tensor:
    """Per-image ArcFace cosine between photo and stylized face (crops at the photo's landmarks).

    Args:
        arcface: frozen ArcFace backbone ([B, 3, 112, 112] in [-1, 1] → [B, D]).
        photo: [B, 3, H, W] RGB in [-1, 1].
        fake_anime: [B, 3, H, W] stylized photo in [-1, 1], same geometry.
        landmarks: [B, 5, 2] photo landmarks in pixels.

    Returns:
        [B] float32 cosines in [-1, 1].
    """
    crops = arcface_crops(torch.cat([photo, fake_anime]), torch.cat([landmarks, landmarks]))
    photo_embedding, fake_embedding = arcface(crops).float().chunk(2)
    return F.cosine_similarity(photo_embedding, fake_embedding, dim=1, eps=1e-8)


def identity_similarity(
    arcface: nn.Module,
    photo: Tensor,
    fake_anime: Tensor,
    landmarks: Tensor,
    has_face: Tensor | None = None,
    *,
    threshold: float = 0.5,
    batch_size: int = 32,
) -> IdentityStats:
    """Identity statistics of a set of photo / stylized pairs.

    Args:
        arcface: frozen ArcFace backbone.
        photo: [N, 3, H, W] RGB photos in [-1, 1].
        fake_anime: [N, 3, H, W] their stylizations in [-1, 1].
        landmarks: [N, 5, 2] photo landmarks in pixels.
        has_face: [N] bool; images without a face are left out. ``None``: all have one.
        threshold: cosine under which a face counts as "identity lost" (0.5 is a loose
            same-person bound for ArcFace r50 on real photos; stylization lowers every score).
        batch_size: images per ArcFace call.

    Returns:
        :class:`IdentityStats` over the faces.
    """
    if has_face is None:
        has_face = torch.ones(photo.shape[0], dtype=torch.bool, device=photo.device)
    index = torch.nonzero(has_face.reshape(-1), as_tuple=False).reshape(-1)
    parts = [
        identity_cosines(
            arcface,
            photo[index[i : i + batch_size]],
            fake_anime[index[i : i + batch_size]],
            landmarks[index[i : i + batch_size]],
        ).cpu()
        for i in range(0, int(index.numel()), batch_size)
    ]
    return summarize_cosines(torch.cat(parts) if parts else torch.zeros(0), threshold=threshold)


def summarize_cosines(cosines: Tensor, *, threshold: float = 0.5) -> IdentityStats:
    """Summarise per-face cosines (e.g. accumulated over evaluation batches).

    Args:
        cosines: [N] cosine similarities.
        threshold: see :func:`identity_similarity`.

    Returns:
        :class:`IdentityStats`; NaN mean/quantiles and zero share when ``N == 0``.
    """
    cosines = cosines.detach().float().reshape(-1).cpu()
    count = int(cosines.numel())
    levels = {"p05": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
    if count == 0:
        nan = float("nan")
        return IdentityStats(nan, nan, dict.fromkeys(levels, nan), 0.0, threshold, 0, cosines)
    values = torch.quantile(cosines, torch.tensor(list(levels.values())))
    return IdentityStats(
        mean=float(cosines.mean()),
        std=float(cosines.std(unbiased=False)),
        quantiles={name: float(v) for name, v in zip(levels, values, strict=True)},
        share_below=float((cosines < threshold).float().mean()),
        threshold=threshold,
        count=count,
        cosines=cosines,
    )
