"""Five-point face alignment: ArcFace crops (insightface ``norm_crop``) and FFHQ-style portraits.

Landmark order everywhere (image-left to image-right, as insightface's SCRFD returns them):
left eye centre, right eye centre, nose tip, left mouth corner, right mouth corner, in pixel
coordinates ``(x, y)`` whose integer values are pixel centres (OpenCV's convention).

The similarity transform is the closed-form least-squares fit of ``scale·rotation + shift``
(no reflection); it is the same optimum skimage's ``SimilarityTransform.estimate`` (Umeyama)
finds, so :func:`norm_crop` reproduces ``insightface.utils.face_align.norm_crop``. The same
fit in torch (:func:`similarity_matrix_torch`) and :func:`warp_affine_torch` give the
differentiable crop the identity loss uses.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ARCFACE_TEMPLATE_112",
    "arcface_crops",
    "arcface_template",
    "estimate_similarity",
    "norm_crop",
    "norm_crop_matrix",
    "portrait_crop",
    "portrait_matrix",
    "similarity_matrix_torch",
    "warp_affine_torch",
]

# insightface's `arcface_dst`: where the 5 points land in a 112x112 ArcFace crop (pixels).
ARCFACE_TEMPLATE_112: np.ndarray = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

BorderMode = Literal["constant", "reflect", "replicate"]
_CV2_BORDERS: dict[str, int] = {
    "constant": cv2.BORDER_CONSTANT,
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
}


def arcface_template(size: int = 112) -> np.ndarray:
    """The ArcFace 5-point template for a ``size x size`` crop, as insightface's ``estimate_norm``.

    Args:
        size: crop side in pixels; a multiple of 112 (template scaled by size/112) or of 128
            (scaled by size/128 and shifted right by 8·size/128 pixels), e.g. 112, 224, 256, 512.

    Returns:
        float32 array [5, 2] of target pixel coordinates.

    Raises:
        ValueError: ``size`` is neither a multiple of 112 nor of 128.
    """
    if size <= 0 or (size % 112 != 0 and size % 128 != 0):
        raise ValueError(f"ArcFace crop size must be a multiple of 112 or 128, got {size}")
    if size % 112 == 0:
        ratio, shift_x = size / 112.0, 0.0
    else:
        ratio = size / 128.0
        shift_x = 8.0 * ratio
    template = ARCFACE_TEMPLATE_112 * np.float32(ratio)
    template[:, 0] += np.float32(shift_x)
    return template


def estimate_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (scale, rotation, shift; no reflection) source → target.

    Args:
        source: [N, 2] points (N >= 2, not all equal), pixels.
        target: [N, 2] points, pixels.

    Returns:
        float64 [2, 3] matrix ``M`` with ``target ≈ M @ [x, y, 1]``, the form ``cv2.warpAffine`` takes.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2:
        raise ValueError(f"need two [N, 2] point arrays, got {source.shape} and {target.shape}")
    source_mean, target_mean = source.mean(0), target.mean(0)
    s, t = source - source_mean, target - target_mean
    norm = float((s**2).sum())
    if norm == 0.0:
        raise ValueError("landmarks are all the same point; no similarity transform exists")
    # M = [[a, -b], [b, a]] minimises sum |M s_i - t_i|^2 in closed form.
    a = float((s * t).sum()) / norm
    b = float((s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum()) / norm
    linear = np.array([[a, -b], [b, a]])
    shift = target_mean - linear @ source_mean
    return np.concatenate([linear, shift[:, None]], axis=1)


def norm_crop_matrix(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The [2, 3] matrix mapping image pixels to the ArcFace crop (insightface ``estimate_norm``).

    Args:
        landmarks: [5, 2] landmarks in image pixels (order in the module docstring).
        size: crop side, a multiple of 112 or 128.

    Returns:
        float64 [2, 3] image → crop matrix.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    return estimate_similarity(landmarks, arcface_template(size))


def norm_crop(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Cut the ArcFace-aligned face crop, equal to ``insightface.utils.face_align.norm_crop``.

    Args:
        image: HWC uint8 image (RGB or BGR; channels are not touched).
        landmarks: [5, 2] landmarks in image pixels.
        size: crop side, a multiple of 112 or 128 (112, 224, 256, 512, ...).

    Returns:
        ``size x size x C`` uint8 crop; pixels outside the image are black (0).
    """
    matrix = norm_crop_matrix(landmarks, size)
    return cv2.warpAffine(image, matrix, (size, size), borderValue=0.0)


def portrait_matrix(landmarks: np.ndarray, size: int, zoom: float = 1.0) -> np.ndarray:
    """Image → portrait-crop matrix of the FFHQ alignment (Karras et al.), from the 5 points.

    FFHQ's ``recreate_aligned_images`` uses the eye centres and mouth corners; the ArcFace
    5 points contain exactly those. The crop is a rotated square about 4 eye distances wide,
    centred a little below the eyes: the whole head with hair and chin, the framing the
    published face2paint generators were trained on.

    Args:
        landmarks: [5, 2] landmarks in image pixels.
        size: output side in pixels.
        zoom: > 1 zooms in (a tighter crop), < 1 shows more around the head.

    Returns:
        float64 [2, 3] matrix mapping image pixels to portrait pixels.
    """
    if zoom <= 0:
        raise ValueError(f"zoom must be > 0, got {zoom}")
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_left, eye_right, _, mouth_left, mouth_right = points
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (mouth_left + mouth_right) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    # Half-axis of the crop square (FFHQ): along the eye line, corrected by the face's
    # vertical direction, long enough for both the eye distance and the eye-mouth distance.
    x = eye_to_eye - np.flipud(eye_to_mouth) * np.array([-1.0, 1.0])
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8) / zoom
    y = np.flipud(x) * np.array([-1.0, 1.0])
    centre = eye_avg + eye_to_mouth * 0.1
    # Corners top-left, bottom-left, bottom-right of the quad map to the output square's
    # corners (pixel-edge coordinates -0.5 .. size - 0.5 in OpenCV's centre convention).
    quad = np.stack([centre - x - y, centre - x + y, centre + x + y])
    edge = np.array([[-0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    return cv2.getAffineTransform(quad.astype(np.float32), edge.astype(np.float32)).astype(
        np.float64
    )


def portrait_crop(
    image: np.ndarray,
    landmarks: np.ndarray,
    size: int = 512,
    *,
    zoom: float = 1.0,
    border: BorderMode = "reflect",
) -> tuple[np.ndarray, np.ndarray]:
    """FFHQ-style portrait crop around one face (the input framing of face2paint generators).

    Args:
        image: HWC uint8 image.
        landmarks: [5, 2] landmarks of the face in image pixels.
        size: output side in pixels (face2paint: 512).
        zoom: see :func:`portrait_matrix`.
        border: how pixels outside the image are filled: ``"reflect"`` (FFHQ-like, no black
            bars for the generator to stylize), ``"replicate"`` or ``"constant"`` (black).

    Returns:
        ``(crop, matrix)``: the ``size x size x C`` uint8 crop and the float64 [2, 3]
        image → crop matrix (invert it with ``cv2.invertAffineTransform`` to paste back).
    """
    matrix = portrait_matrix(landmarks, size, zoom)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    source = image
    if scale < 0.5:
        # Bilinear warping skips pixels when shrinking more than 2x (aliasing); shrink first
        # with area averaging, then warp with the remaining factor.
        factor = 1.0 / (2.0 * scale)
        height, width = image.shape[:2]
        new_size = (max(1, round(width / factor)), max(1, round(height / factor)))
        source = cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)
        pre = np.array(
            [
                [new_size[0] / width, 0.0, 0.5 * new_size[0] / width - 0.5],
                [0.0, new_size[1] / height, 0.5 * new_size[1] / height - 0.5],
            ]
        )
        matrix_small = matrix @ np.vstack([cv2.invertAffineTransform(pre), [0.0, 0.0, 1.0]])
        crop = cv2.warpAffine(
            source,
            matrix_small,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=_CV2_BORDERS[border],
        )
        return crop, matrix
    crop = cv2.warpAffine(
        source, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=_CV2_BORDERS[border]
    )
    return crop, matrix


def similarity_matrix_torch(landmarks: Tensor, template: Tensor) -> Tensor:
    """Batched least-squares similarity fit (same as :func:`estimate_similarity`), in torch.

    Args:
        landmarks: [B, N, 2] source points (image pixels).
        template: [N, 2] or [B, N, 2] target points (crop pixels).

    Returns:
        [B, 2, 3] image → crop matrices, dtype of ``landmarks`` (float32 or float64).
    """
    template = template.to(landmarks).expand_as(landmarks)
    source_mean = landmarks.mean(dim=1, keepdim=True)  # [B, 1, 2]
    target_mean = template.mean(dim=1, keepdim=True)
    s = landmarks - source_mean
    t = template - target_mean
    norm = (s**2).sum(dim=(1, 2)).clamp_min(1e-12)  # [B]
    a = (s * t).sum(dim=(1, 2)) / norm
    b = (s[..., 0] * t[..., 1] - s[..., 1] * t[..., 0]).sum(dim=1) / norm
    linear = torch.stack([torch.stack([a, -b], dim=-1), torch.stack([b, a], dim=-1)], dim=1)
    shift = target_mean.squeeze(1) - (linear @ source_mean.transpose(1, 2)).squeeze(-1)
    return torch.cat([linear, shift.unsqueeze(-1)], dim=2)


def warp_affine_torch(image: Tensor, matrix: Tensor, size: int, *, fill: float = 0.0) -> Tensor:
    """Differentiable ``cv2.warpAffine`` (bilinear) with an OpenCV-convention [2, 3] matrix.

    Args:
        image: [B, C, H, W] float images.
        matrix: [B, 2, 3] image pixel → output pixel matrices (pixel centres at integers).
        size: output side in pixels.
        fill: value of output pixels that fall outside the image (in ``image``'s units, e.g.
            -1.0 for black in [-1, 1] images).

    Returns:
        [B, C, size, size] warped images; gradients flow to ``image`` (not to ``matrix``'s
        callers' landmarks unless they require grad).
    """
    b, _, h, w = image.shape  # [B, C, H, W]
    dtype = matrix.dtype
    bottom = matrix.new_tensor([0.0, 0.0, 1.0]).expand(b, 1, 3)
    inverse = torch.linalg.inv(torch.cat([matrix, bottom], dim=1))  # output → image pixels
    # affine_grid works in normalised coordinates (align_corners=False: -1 and 1 are the outer
    # pixel edges), so conjugate the pixel-space map with both normalisations.
    to_input_norm = torch.tensor(
        [[2.0 / w, 0.0, 1.0 / w - 1.0], [0.0, 2.0 / h, 1.0 / h - 1.0], [0.0, 0.0, 1.0]],
        dtype=dtype,
        device=matrix.device,
    )
    from_output_norm = torch.tensor(
        [[size / 2.0, 0.0, (size - 1) / 2.0], [0.0, size / 2.0, (size - 1) / 2.0], [0.0, 0.0, 1.0]],
        dtype=dtype,
        device=matrix.device,
    )
    theta = (to_input_norm @ inverse @ from_output_norm)[:, :2, :]
    grid = F.affine_grid(
        theta.to(image.dtype), [b, image.shape[1], size, size], align_corners=False
    )
    # grid_sample pads with zeros; shift so the padding value becomes `fill`.
    warped = F.grid_sample(
        image - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return warped + fill


def arcface_crops(images: Tensor, landmarks: Tensor, size: int = 112) -> Tensor:
    """Differentiable ArcFace crops, the torch counterpart of ``norm_crop(image, landmarks, size)``.

    Args:
        images: [B, 3, H, W] RGB in [-1, 1].
        landmarks: [B, 5, 2] five points (eyes, nose, mouth corners; image-left first) in pixel
            coordinates of ``images`` (pixel centres at integers).
        size: crop side (112 for ArcFace), a multiple of 112 or 128.

    Returns:
        [B, 3, size, size] crops in [-1, 1]; outside the image is black (-1), as in
        ``norm_crop``. Gradients flow to ``images`` (landmarks are treated as constants).
    """
    template = torch.as_tensor(arcface_template(size), dtype=torch.float64, device=images.device)
    # The 5-point fit runs in float64 without gradient: it is tiny and must match norm_crop.
    matrix = similarity_matrix_torch(landmarks.detach().to(torch.float64), template)
    return warp_affine_torch(images, matrix, size, fill=-1.0)
