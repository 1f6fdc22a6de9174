"""Small image helpers shared by callbacks, evaluation and inference (tensor ↔ file)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid


def to_uint8_image(image: Tensor) -> Tensor:
    """Map a [3, H, W] or [B, 3, H, W] tensor in [-1, 1] to uint8 in [0, 255] (values clamped)."""
    return ((image.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def from_uint8_image(image: Tensor) -> Tensor:
    """Map uint8 values 0..255 (any shape) to float32 ``x / 127.5 - 1`` in [-1, 1] (0 → -1, 255 → 1).

    The inverse of :func:`to_uint8_image` on its outputs: ``to_uint8_image(from_uint8_image(u))
    == u`` for every uint8 ``u``.
    """
    return image.float() / 127.5 - 1.0


def save_comparison_grid(columns: Sequence[Tensor], path: str | Path, padding: int = 2) -> Path:
    """Save images side by side: row i shows ``columns[0][i] | columns[1][i] | ...``.

    Args:
        columns: tensors [N, 3, H, W] in [-1, 1], all the same shape (e.g. photos, stylized).
        path: PNG file to write; parent folders are created.
        padding: pixels of white between tiles.

    Returns:
        The written path.
    """
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
