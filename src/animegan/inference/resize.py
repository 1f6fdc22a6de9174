"""``--max-side`` / ``--keep-size``: stylise big photos at a working size.

A 12 MP phone photo takes minutes through the generator on a CPU, and at full resolution its
strokes come out small against the subject (the published generators were trained at 256-512
pixels). Shrinking the longer side to ``max_side`` first makes the time per photo bounded and
the strokes larger; ``keep_size`` scales the result back to the photo's size (bicubic).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from animegan.inference.tiling import MIN_SIDE

__all__ = ["MaxSideStylizer", "scaled_size"]


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """``(width, height)`` with the longer side at most ``max_side`` (aspect kept).

    Args:
        width: image width in pixels.
        height: image height in pixels.
        max_side: bound on the longer side in pixels (>= 8), or None for no bound.

    Returns:
        The reduced size, or None when the image already fits (or there is no bound).
    """
    if max_side is None or max(width, height) <= max_side:
        return None
    scale = max_side / max(width, height)
    return max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale))


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``[H, W, 3]`` uint8 to ``size = (width, height)``: area to shrink, cubic to grow."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    shrink = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


class MaxSideStylizer:
    """Wrap a photo stylizer so photos are shrunk to ``max_side`` first.

    Args:
        stylizer: callable ``(photo, on_tile=None) -> stylised photo`` (e.g. a ``Stylizer``).
        max_side: longer-side bound in pixels (>= 8).
        keep_size: scale the result back to the photo's size; otherwise the output is the
            working size.
    """

    def __init__(self, stylizer: Callable[..., np.ndarray], max_side: int, *,
                 keep_size: bool = False) -> None:  # fmt: skip
        if max_side < MIN_SIDE:
            raise ValueError(f"max_side must be at least {MIN_SIDE} pixels, got {max_side}")
        self.stylizer = stylizer
        self.max_side = max_side
        self.keep_size = keep_size

    def __call__(self, photo: np.ndarray, on_tile: Callable[[], None] | None = None) -> np.ndarray:
        """Stylise ``[H, W, 3]`` uint8 RGB; returns uint8 RGB at the working or original size."""
        height, width = photo.shape[:2]
        size = scaled_size(width, height, self.max_side)
        if size is None:
            return self.stylizer(photo, on_tile=on_tile)
        stylized = self.stylizer(resize_rgb(photo, size), on_tile=on_tile)
        return resize_rgb(stylized, (width, height)) if self.keep_size else stylized
