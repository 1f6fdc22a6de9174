"""Which generator / discriminator parameters learn in a phase (freezing, fine-tuning)."""

from __future__ import annotations

from torch import nn


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """Toggle ``requires_grad`` on every parameter of ``module`` (which network learns in a phase)."""
    for parameter in module.parameters():
        parameter.requires_grad_(flag)


def trainable_tail(generator: nn.Module, last_blocks: int | None) -> list[nn.Parameter]:
    """Parameters of the generator's last ``last_blocks`` top-level children; freeze the rest."""
    if last_blocks is None:
        return list(generator.parameters())
    blocks = list(generator.children())
    if not 1 <= last_blocks <= len(blocks):
        raise ValueError(f"trainable_last_blocks must be in [1, {len(blocks)}], got {last_blocks}")
    generator.requires_grad_(False)
    trainable = [p for block in blocks[-last_blocks:] for p in block.parameters()]
    for parameter in trainable:
        parameter.requires_grad_(True)
    return trainable
