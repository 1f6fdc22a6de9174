"""Gathering per-image metric state across ``torch.distributed`` ranks.

Every rank evaluates its shard of the photos (``rank::world_size``); per-image rows are
all-gathered and re-ordered by photo index, so every rank then computes the same values from the
same ordered data (torchmetrics' ``dist_reduce_fx="cat"`` states, with the order restored).
Without an initialised process group every function is the single-process identity.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["RowState", "all_gather_rows", "all_ranks_agree", "distributed_rank"]


def distributed_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def all_gather_rows(rows: Tensor) -> Tensor:
    """Concatenate every rank's ``rows`` [n_r, ...] along dim 0 (n_r may differ, even be 0)."""
    _, world = distributed_rank()
    if world == 1:
        return rows
    count = torch.tensor([rows.shape[0]], device=rows.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    torch.distributed.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    padded = rows.new_zeros((max(max(sizes), 1), *rows.shape[1:]))
    padded[: rows.shape[0]] = rows
    gathered = [torch.empty_like(padded) for _ in range(world)]
    torch.distributed.all_gather(gathered, padded)
    return torch.cat([part[:size] for part, size in zip(gathered, sizes, strict=True)])


def all_ranks_agree(flag: bool, device: torch.device) -> bool:
    """``flag`` if it holds on every rank (collective: every rank must call it)."""
    _, world = distributed_rank()
    if world == 1:
        return flag
    value = torch.tensor([int(flag)], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MIN)
    return bool(value.item())


class RowState:
    """Per-image rows one rank accumulates, gathered from all ranks in photo-index order.

    Args:
        row_shape: shape of one image's row (``()`` for a scalar per image).
        dtype: dtype of the rows (also of the empty stand-in of a rank without rows).
    """

    def __init__(self, row_shape: tuple[int, ...] = (), dtype: torch.dtype = torch.float32):
        self.row_shape = tuple(row_shape)
        self.dtype = dtype
        self.reset()

    def reset(self) -> None:
        """Forget every row."""
        self._values: list[Tensor] = []
        self._index: list[Tensor] = []

    def append(self, index: Tensor, values: Tensor) -> None:
        """Add rows: ``index`` [b] global photo indices, ``values`` [b, *row_shape]."""
        self._index.append(index)
        self._values.append(values)

    def gather(self, device: torch.device | str) -> Tensor:
        """All ranks' rows ordered by their global index, on CPU (collective on every rank).

        Args:
            device: where the collectives run (the rows' device; a rank without rows sends an
                empty [0, *row_shape] tensor from here, so the trailing shapes always match).

        Returns:
            [N, *row_shape] rows of every rank, sorted by photo index.
        """
        empty = torch.zeros(0, *self.row_shape, dtype=self.dtype, device=device)
        values = torch.cat(self._values) if self._values else empty
        index = torch.cat(self._index) if self._index else empty.new_zeros(0, dtype=torch.long)
        index, values = all_gather_rows(index), all_gather_rows(values)
        return values[torch.argsort(index)].cpu()
