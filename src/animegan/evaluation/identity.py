"""Identity similarity: is the stylized face still the photo's person (face-embedding cosine)?

``identity``: mean cosine similarity of the face embeddings of each photo and its stylized
image over the images with a face (NaN-free); with its distribution (``identity_p05``,
``identity_median``, ``identity_share_below`` the threshold), since the mean hides the few faces
that deform.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from animegan.evaluation.distributed import RowState
from animegan.evaluation.metric import Metric, MetricValues
from animegan.losses.identity import embedding_cosine

__all__ = [
    "FaceCrop",
    "IdentityMetric",
    "IdentityModel",
    "IdentityStats",
    "center_face_crop",
    "identity_similarity",
    "summarize_cosines",
]

# Maps face crops [B, 3, S, S] in [-1, 1] to embeddings [B, D] (e.g. ArcFace, D = 512).
IdentityModel = Callable[[Tensor], Tensor]
# (photo, fake_anime) [B, 3, H, W] -> (photo crops, fake crops) [B, 3, S, S] and a face mask [B].
FaceCrop = Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]


def center_face_crop(
    photo: Tensor, fake_anime: Tensor, size: int = 112
) -> tuple[Tensor, Tensor, Tensor]:
    """Default face crop: the whole image resized to ``size``² (photos are aligned face crops).

    Args:
        photo: [B, 3, H, W] in [-1, 1].
        fake_anime: its stylization, same shape.
        size: crop side in pixels (ArcFace: 112).

    Returns:
        ``(photo_crops, fake_crops, has_face)``: [B, 3, size, size] twice and a bool [B] mask
        (all True here; a detector-based crop marks photos without a face False).
    """

    def resize(images: Tensor) -> Tensor:
        return F.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )

    return resize(photo), resize(fake_anime), torch.ones(photo.shape[0], dtype=torch.bool)


def identity_similarity(
    identity_model: IdentityModel,
    photo: Tensor,
    fake_anime: Tensor,
    face_crop: FaceCrop | None = None,
) -> Tensor:
    """Cosine similarity of face embeddings of each photo and its stylized image.

    Args:
        identity_model: maps face crops [B, 3, S, S] in [-1, 1] to embeddings [B, D].
        photo: [B, 3, H, W] in [-1, 1].
        fake_anime: [B, 3, H, W] in [-1, 1], the stylized ``photo``.
        face_crop: ``(photo, fake) -> (photo crops, fake crops, has_face [B])``, the same crop
            applied to both images; default :func:`center_face_crop`.

    Returns:
        [B] float32 cosine similarities in [-1, 1] (1 = same identity direction); NaN where no
        face was found.
    """
    crop = face_crop if face_crop is not None else center_face_crop
    photo_crops, fake_crops, has_face = crop(photo, fake_anime)
    similarity = embedding_cosine(identity_model, photo_crops, fake_crops)
    return torch.where(
        has_face.to(similarity.device), similarity, torch.full_like(similarity, float("nan"))
    )


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


def summarize_cosines(cosines: Tensor, *, threshold: float = 0.5) -> IdentityStats:
    """Summarise per-face cosines (e.g. accumulated over evaluation batches).

    Args:
        cosines: [N] cosine similarities.
        threshold: cosine under which a face counts as "identity lost" (``share_below``).

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


class IdentityMetric(Metric):
    """Photo-vs-stylized face-embedding cosine, per image and summarised.

    Args:
        identity_model: face crops [B, 3, s, s] in [-1, 1] → embeddings [B, D] (e.g. ArcFace).
        face_crop: ``(photo, fake) -> (photo crops, fake crops, has_face)``; default: the whole
            image resized to 112² (aligned face photos).
        threshold: cosine under which a face counts as "identity lost" (``identity_share_below``).
    """

    def __init__(
        self,
        identity_model: IdentityModel,
        *,
        face_crop: FaceCrop | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.identity_model = identity_model
        self.face_crop = face_crop
        self.threshold = float(threshold)
        self.reset()

    def reset(self) -> None:
        """Forget the per-image cosines."""
        self._rows = RowState(())
        self._cosines = torch.zeros(0)

    def update(self, photo: Tensor, stylized: Tensor, index: Tensor) -> None:
        """Cosine of each photo and its stylization (NaN where the crop found no face)."""
        self._rows.append(
            index, identity_similarity(self.identity_model, photo, stylized, self.face_crop)
        )

    def sync(self, device: torch.device) -> None:
        """Gather the cosines of every rank in photo order (collective)."""
        self._cosines = self._rows.gather(device)

    def compute(self) -> MetricValues:
        """``identity`` (mean), ``identity_p05``, ``identity_median``, ``identity_share_below``."""
        identity = self._cosines
        valid = identity[~torch.isnan(identity)]
        stats = summarize_cosines(valid, threshold=self.threshold)
        info: dict[str, Any] = {
            "identity_faces": int(valid.numel()),
            "identity_threshold": self.threshold,
        }
        return MetricValues(
            metrics={
                "identity": float(valid.double().mean()) if valid.numel() else math.nan,
                "identity_p05": stats.quantiles["p05"],
                "identity_median": stats.quantiles["median"],
                "identity_share_below": stats.share_below,
            },
            per_image={"identity": identity.tolist()},
            info=info,
        )

    def to(self, device: torch.device | str) -> IdentityMetric:
        """Move the identity model to ``device`` when it is a module; returns ``self``."""
        if isinstance(self.identity_model, nn.Module):
            self.identity_model.to(device)
        return self
