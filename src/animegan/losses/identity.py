"""ArcFace identity loss: does the stylized face still show the same person as the photo?

Both images are cropped with the *photo's* landmarks (the generator must keep the face where it
was) by a differentiable warp onto the 112x112 ArcFace template, the same similarity transform
as insightface's ``norm_crop``; the loss is ``1 - cos(ArcFace(photo crop), ArcFace(fake crop))``
averaged over the images that have a face.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from animegan.faces.alignment import ARCFACE_TEMPLATE_112, arcface_crops

__all__ = [
    "arcface_crops",
    "embedding_cosine",
    "identity_cosine",
    "identity_loss",
    "identity_loss_from_batch",
]


def embedding_cosine(
    identity_model: Callable[[Tensor], Tensor], photo_crops: Tensor, fake_crops: Tensor
) -> Tensor:
    """Cosine similarity of the face embeddings of photo crops and stylized crops, per image.

    The one implementation behind the identity loss and the identity metric. The photo side is
    embedded without gradient (it is the target); the stylized side keeps its graph.

    Args:
        identity_model: frozen face-embedding network ([B, 3, S, S] in [-1, 1] → [B, D]).
        photo_crops: [B, 3, S, S] face crops of the photos, in [-1, 1].
        fake_crops: [B, 3, S, S] the same crops of the stylized images.

    Returns:
        [B] float32 cosine similarities in [-1, 1] (1 = same identity direction).
    """
    with torch.no_grad():
        photo_embedding = identity_model(photo_crops).float()
    fake_embedding = identity_model(fake_crops).float()
    return F.cosine_similarity(photo_embedding, fake_embedding, dim=1, eps=1e-8)


def identity_cosine(
    arcface: nn.Module, photo: Tensor, fake_anime: Tensor, landmarks: Tensor
) -> Tensor:
    """Cosine similarity of the ArcFace embeddings of photo and stylized face, per image.

    Args:
        arcface: frozen ArcFace backbone ([B, 3, 112, 112] in [-1, 1] → [B, D]).
        photo: [B, 3, H, W] RGB photo in [-1, 1].
        fake_anime: [B, 3, H, W] ``generator(photo)`` in [-1, 1].
        landmarks: [B, 5, 2] landmarks of the photo in its pixel coordinates.

    Returns:
        [B] cosine similarities in [-1, 1]; the photo side carries no gradient.
    """
    return embedding_cosine(
        arcface, arcface_crops(photo, landmarks), arcface_crops(fake_anime, landmarks)
    )


def identity_loss(
    arcface: nn.Module,
    photo: Tensor,
    fake_anime: Tensor,
    landmarks: Tensor,
    has_face: Tensor,
) -> Tensor:
    """Identity-preservation loss ``mean over faces of (1 - cos(ArcFace(photo), ArcFace(fake)))``.

    Images without a face contribute nothing (their term is masked, not NaN): the loss is the
    sum over faces divided by the number of faces, and exactly 0 (with a graph, so
    ``backward`` works) when the batch has none. Every image is still embedded, so the cost and
    the graph do not depend on the data (no Python branching on ``has_face``).

    Args:
        arcface: frozen ArcFace backbone, e.g. ``animegan.models.iresnet50(...)``.
        photo: [B, 3, H, W] RGB photo in [-1, 1] (the generator input).
        fake_anime: [B, 3, H, W] ``generator(photo)``, graph kept to the generator.
        landmarks: [B, 5, 2] five landmarks of each photo in its pixel coordinates (after the
            same crop/resize/flip the photo went through); any finite values where
            ``has_face`` is false.
        has_face: [B] bool, true where ``landmarks`` belong to a real face.

    Returns:
        Scalar loss in [0, 2]; 0 for identical photo and fake.
    """
    mask = has_face.to(photo.dtype).reshape(-1)  # [B]
    # Replace the placeholder landmarks of face-less images by the template itself, so the
    # similarity fit stays well-posed (no division by ~0) whatever the batch holds.
    template = torch.as_tensor(ARCFACE_TEMPLATE_112, dtype=landmarks.dtype, device=landmarks.device)
    safe_landmarks = torch.where(
        has_face.reshape(-1, 1, 1), landmarks, template.expand_as(landmarks)
    )
    cosine = identity_cosine(arcface, photo, fake_anime, safe_landmarks)
    return ((1.0 - cosine) * mask).sum() / mask.sum().clamp_min(1.0)


def identity_loss_from_batch(
    arcface: nn.Module, batch: Mapping[str, Tensor], fake_anime: Tensor
) -> Tensor:
    """:func:`identity_loss` with the photo, landmarks and face flags read from a batch.

    Args:
        arcface: frozen face-embedding network.
        batch: holds ``photo`` [B, 3, H, W], ``landmarks`` [B, 5, 2] and ``has_face`` [B].
        fake_anime: ``generator(photo)``, graph kept.

    Returns:
        Scalar identity loss (see :func:`identity_loss`).

    Raises:
        KeyError: the batch has no landmarks (not a face dataset with landmarks).
    """
    if "landmarks" not in batch or "has_face" not in batch:
        raise KeyError(
            "the identity term needs 'landmarks' [B, 5, 2] and 'has_face' [B] in each batch; "
            "use a face dataset with landmarks (python -m animegan.cli.align_faces) and "
            "data.landmarks=true"
        )
    return identity_loss(arcface, batch["photo"], fake_anime, batch["landmarks"], batch["has_face"])
