"""Non-finite guard: an optimizer step whose gradients hold NaN or Inf is skipped and reported.

Why by hand: Lightning has no skip-on-NaN for manual optimisation (its ``detect_anomaly`` only
raises, and ``GradScaler``'s found-inf skip exists for fp16 loss scaling, not bf16/fp32). The
check is one fused norm over the gradients and one host sync per update.

The decision looks at the gradients *after* backward, i.e. after DDP's all-reduce: every rank
sees the same gradients, so every rank skips the same steps and the replicas never drift apart.
The loss terms are only inspected (for the report) once a step is already being skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn


def gradients_are_finite(parameters: Iterable[nn.Parameter]) -> bool:
    """True when every existing ``.grad`` of ``parameters`` is finite (no NaN, no ±Inf).

    Parameters without a gradient are ignored; no gradient at all counts as finite. Costs one
    fused norm (foreach kernels) and one device→host sync.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return True
    # A NaN/Inf anywhere makes the total 2-norm NaN/Inf. Finite fp32 gradients would need entries
    # around 1e19 to overflow the norm: not a case a GAN step survives anyway.
    total = torch.nn.utils.get_total_norm(grads, norm_type=2.0, error_if_nonfinite=False)
    return bool(torch.isfinite(total))


def nonfinite_terms(terms: Mapping[str, Tensor]) -> list[str]:
    """Names of the loss terms whose value is NaN or ±Inf (for the report of a skipped step)."""
    return [name for name, value in terms.items() if not bool(torch.isfinite(value).all())]


class NonFiniteTrainingError(RuntimeError):
    """Too many consecutive updates had non-finite gradients: training has diverged."""


@dataclass
class NonFiniteGuard:
    """Counts skipped updates and stops a run that keeps producing non-finite gradients.

    Args:
        max_consecutive: raise :class:`NonFiniteTrainingError` once this many updates in a row
            were skipped (0 = never raise). Consecutive counting is per update kind
            (``"init"``, ``"discriminator"``, ``"generator"``).
    """

    max_consecutive: int = 20
    skipped: int = 0
    _consecutive: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_consecutive < 0:
            raise ValueError(f"max_consecutive must be >= 0, got {self.max_consecutive}")

    def record(self, update: str, finite: bool) -> None:
        """Account for one update of kind ``update``; raises after too many bad ones in a row."""
        if finite:
            self._consecutive[update] = 0
            return
        self.skipped += 1
        count = self._consecutive.get(update, 0) + 1
        self._consecutive[update] = count
        if self.max_consecutive and count >= self.max_consecutive:
            raise NonFiniteTrainingError(
                f"{count} consecutive {update} updates had NaN/Inf gradients and were skipped: "
                "training has diverged. Lower the learning rates, check the data for broken "
                "images, or resume from an earlier checkpoint (ckpt_path=...)."
            )
