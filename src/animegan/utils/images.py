"""Small image helpers shared by data, callbacks, evaluation and inference.

The [-1, 1] ↔ uint8 pair and grids (tensor ↔ file).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor

# The generator's range [-1, 1] and 8-bit pixels: x = u / 127.5 - 1 (0 -> -1, 255 -> 1) and
# u = round((x + 1) * 127.5), the official AnimeGANv2 loader's and saver's mapping.
_HALF_RANGE = 127.5
ImageData = TypeVar("ImageData", Tensor, np.ndarray)


def to_uint8_image(image: ImageData) -> ImageData:
    """Map values in [-1, 1] (any shape) to uint8 pixels 0..255, the one float → 8-bit rule.

    ``u = round((clamp(x, -1, 1) + 1) * 127.5)`` to the nearest integer (``torch.round`` /
    ``np.rint``; the one exact half, x = 0 → 127.5, gives 128); values outside [-1, 1] saturate
    to 0 or 255. A tensor is converted in float32 (detached, on its device), an array in its own
    float dtype.

    Args:
        image: tensor or NumPy array in [-1, 1], e.g. [B, 3, H, W] or [H, W, 3].

    Returns:
        The same kind and shape, dtype uint8.
    """
    if isinstance(image, np.ndarray):
        return np.rint((np.clip(image, -1.0, 1.0) + 1.0) * _HALF_RANGE).astype(np.uint8)
    return ((image.detach().float().clamp(-1, 1) + 1) * _HALF_RANGE).round().to(torch.uint8)


def from_uint8_image(image: ImageData) -> ImageData:
    """Map uint8 pixels 0..255 (any shape) to float32 ``u / 127.5 - 1`` in [-1, 1].

    The inverse of :func:`to_uint8_image` on its outputs (``to_uint8_image(from_uint8_image(u))
    == u`` for every uint8 ``u``); float32 division and subtraction, so tensors and arrays give
    bit-identical values.

    Args:
        image: uint8 tensor or NumPy array (any layout; the layout is kept).

    Returns:
        The same kind and shape, dtype float32, values in [-1, 1] (0 → -1.0, 255 → 1.0).
    """
    if isinstance(image, np.ndarray):
        return image.astype(np.float32) / np.float32(_HALF_RANGE) - np.float32(1.0)
    return image.float() / _HALF_RANGE - 1.0


def save_comparison_grid(columns: Sequence[Tensor], path: str | Path, padding: int = 2) -> Path:
    """Save images side by side: row i shows ``columns[0][i] | columns[1][i] | ...``.

    Args:
        columns: tensors [N, 3, H, W] in [-1, 1], all the same shape (e.g. photos, stylized).
        path: PNG file to write; parent folders are created.
        padding: pixels of white between tiles.

    Returns:
        The written path.
    """
    from torchvision.utils import make_grid  # imported here: data workers need only the pair

    if not columns:
        raise ValueError("save_comparison_grid needs at least one column")
    shape = columns[0].shape
    if any(column.shape != shape for column in columns):
        raise ValueError(
            f"all columns must share one shape, got {[tuple(c.shape) for c in columns]}"
        )
    # [N, K, 3, H, W] -> rows of K tiles
    tiles = torch.stack([column.detach().float().cpu() for column in columns], dim=1).flatten(0, 1)
    grid = make_grid(
        (tiles.clamp(-1, 1) + 1) / 2, nrow=len(columns), padding=padding, pad_value=1.0
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(image).save(path)
    return path
