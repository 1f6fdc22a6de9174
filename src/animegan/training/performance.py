"""Speed switches of the training step: memory format and per-network ``torch.compile``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class SpeedSettings:
    """The module's speed switches (``module.channels_last``, ``module.compile``, ``compile_mode``).

    Args:
        channels_last: networks and images in channels-last (NHWC) memory format.
        compile: ``torch.compile`` each network on its own.
        compile_mode: ``torch.compile`` mode (``None`` = default).
    """

    channels_last: bool = False
    compile: bool = False
    compile_mode: str | None = None

    @property
    def memory_format(self) -> torch.memory_format:
        """The memory format of the batches' images (see :func:`to_memory_format`)."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def apply(self, networks: Iterable[nn.Module]) -> None:
        """Convert and compile ``networks`` in place (see :func:`apply_speed_settings`)."""
        apply_speed_settings(
            networks, channels_last=self.channels_last, compile=self.compile, mode=self.compile_mode
        )


def apply_speed_settings(
    networks: Iterable[nn.Module], *, channels_last: bool, compile: bool, mode: str | None
) -> None:
    """Convert and compile networks in place (state_dict keys do not change).

    Args:
        networks: the modules to convert (G, D, the loss network).
        channels_last: store their weights channels-last (NHWC), faster for convs on GPUs.
        compile: ``module.compile`` each network on its own; compiling the whole step is not
            possible (the D and G backward passes share the generator's graph).
        mode: ``torch.compile`` mode (``None`` = default; CUDA-graph modes are not supported by
            the step's reused outputs).
    """
    for network in networks:
        if channels_last:
            network.to(memory_format=torch.channels_last)
        if compile:
            network.compile(mode=mode)


def to_memory_format(
    batch: Mapping[str, object], memory_format: torch.memory_format
) -> dict[str, Tensor]:
    """The batch's tensors, 4-D images in ``memory_format``, others (landmarks, masks) as they are.

    Args:
        batch: a collated batch; non-tensor entries (file names) are dropped.
        memory_format: ``torch.channels_last`` or ``torch.contiguous_format``.

    Returns:
        A new dict of tensors.
    """
    return {
        key: value.contiguous(memory_format=memory_format) if value.dim() == 4 else value
        for key, value in batch.items()
        if isinstance(value, Tensor)
    }
