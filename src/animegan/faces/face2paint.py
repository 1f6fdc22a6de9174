"""face2paint: stylize a face photo the way the published face_paint_512 generators expect.

Detect faces, cut the FFHQ-style portrait around the largest one at 512x512, run the
generator, and optionally paste the stylized portrait back into the photo with a feathered mask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from animegan.faces.alignment import portrait_crop
from animegan.faces.detection import DetectedFace, FaceDetector, largest_face
from animegan.utils.images import from_uint8_image, to_uint8_image

__all__ = ["Face2PaintResult", "face2paint"]


@dataclass(frozen=True)
class Face2PaintResult:
    """Output of :func:`face2paint`.

    Attributes:
        portrait: size x size x 3 uint8 RGB stylized portrait.
        photo_portrait: the same crop of the photo before stylization.
        matrix: float64 [2, 3] photo → portrait pixel matrix.
        face: the face that was used.
        pasted: the photo with the stylized portrait pasted back (``paste_back=True``), else None.
    """

    portrait: np.ndarray
    photo_portrait: np.ndarray
    matrix: np.ndarray
    face: DetectedFace
    pasted: np.ndarray | None


@torch.no_grad()
def _stylize(generator: nn.Module, image: np.ndarray) -> np.ndarray:
    parameter = next(generator.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    photo = from_uint8_image(torch.from_numpy(image).permute(2, 0, 1)[None]).to(device)
    fake_anime = generator(photo)[0]
    return to_uint8_image(fake_anime).permute(1, 2, 0).cpu().numpy()


def face2paint(
    image: np.ndarray,
    generator: nn.Module | Callable[[np.ndarray], np.ndarray],
    *,
    detector: FaceDetector | None = None,
    landmarks: np.ndarray | None = None,
    size: int = 512,
    zoom: float = 1.0,
    paste_back: bool = False,
    feather: float = 0.08,
) -> Face2PaintResult:
    """Stylize the largest face of a photo as an FFHQ-style portrait.

    Args:
        image: HWC uint8 RGB photo.
        generator: photo → anime network (RGB [-1, 1] in and out), in eval mode; or any
            callable mapping the HWC uint8 RGB portrait to a stylized one of the same size
            (e.g. an :class:`animegan.inference.Stylizer`, which adds its backend, tiling,
            strength and post-processing).
        detector: face detector (``make_detector(...)``); not needed when ``landmarks`` given.
        landmarks: [5, 2] landmarks of the face to use (skips detection).
        size: portrait side in pixels (512 for the face_paint_512 weights).
        zoom: > 1 crops tighter around the face.
        paste_back: also warp the stylized portrait back into the photo.
        feather: width of the blended border as a fraction of ``size``.

    Returns:
        :class:`Face2PaintResult`.

    Raises:
        ValueError: neither ``detector`` nor ``landmarks`` given, or no face found.
    """
    if landmarks is not None:
        points = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
        box = np.concatenate([points.min(0), points.max(0)]).astype(np.float32)
        face = DetectedFace(box=box, landmarks=points, score=1.0)
    elif detector is not None:
        found = largest_face(detector(image))
        if found is None:
            raise ValueError("face2paint: no face found in the image")
        face = found
    else:
        raise ValueError("face2paint needs a detector or the landmarks of the face")
    photo_portrait, matrix = portrait_crop(image, face.landmarks, size, zoom=zoom)
    if isinstance(generator, nn.Module):
        portrait = _stylize(generator, photo_portrait)
    else:
        portrait = np.asarray(generator(photo_portrait), dtype=np.uint8)
        if portrait.shape != photo_portrait.shape:
            raise ValueError(
                f"face2paint: the stylizer returned {portrait.shape}, expected {photo_portrait.shape}"
            )
    pasted = None
    if paste_back:
        height, width = image.shape[:2]
        inverse = cv2.invertAffineTransform(matrix)
        back = cv2.warpAffine(portrait, inverse, (width, height), flags=cv2.INTER_LINEAR)
        # Feathered square mask: 1 inside, fading to 0 at the portrait border, so the seam with
        # the untouched photo is not a hard edge.
        border = max(1, int(round(feather * size)))
        mask = np.zeros((size, size), np.float32)
        mask[border:-border, border:-border] = 1.0
        mask = cv2.GaussianBlur(mask, (0, 0), border / 2.0)
        mask_back = cv2.warpAffine(mask, inverse, (width, height), flags=cv2.INTER_LINEAR)[
            ..., None
        ]
        pasted = (back * mask_back + image * (1.0 - mask_back)).round().astype(np.uint8)
    return Face2PaintResult(portrait, photo_portrait, matrix, face, pasted)
