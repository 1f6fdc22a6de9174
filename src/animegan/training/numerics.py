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

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.optim import Optimizer


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


def step_unless_nonfinite(
    optimizer: Optimizer,
    parameters: Iterable[nn.Parameter],
    terms: Mapping[str, Tensor],
    guard: NonFiniteGuard,
    *,
    update: str,
    where: str,
) -> bool:
    """Step ``optimizer`` after a backward pass, unless its gradients hold a NaN or Inf.

    A bad update is skipped: the gradients are dropped, the optimizer state (moments, step
    count) is untouched, a warning names the non-finite loss terms, and ``guard`` counts it
    (raising :class:`NonFiniteTrainingError` after too many in a row). Call it after DDP's
    all-reduce (i.e. after backward), so every rank takes the same decision.

    Args:
        optimizer: the optimizer to step (a LightningOptimizer works too).
        parameters: the parameters it updates (their ``.grad`` is checked).
        terms: the loss terms of this update, named in the warning when skipped.
        guard: the run's counter of skipped updates.
        update: kind of update (``"init"``, ``"discriminator"``, ``"generator"``), counted apart.
        where: position for the warning, e.g. ``"step 120 (epoch 3)"``.

    Returns:
        True when the optimizer stepped.
    """
    finite = gradients_are_finite(parameters)
    if finite:
        optimizer.step()
    else:
        optimizer.zero_grad(set_to_none=True)
        rank_zero_warn(
            f"skipped the {update} update at {where}: NaN/Inf gradients; non-finite loss terms "
            f"on this rank: {nonfinite_terms(terms) or 'none'} ({guard.skipped + 1} skipped so far)"
        )
    guard.record(update, finite)
    return finite


def guarded_update(
    module: L.LightningModule,
    optimizer: Optimizer,
    total: Tensor,
    terms: Mapping[str, Tensor],
    parameters: Iterable[nn.Parameter],
    *,
    guard: NonFiniteGuard | None,
    update: str,
) -> None:
    """One manual-optimisation update: zero the gradients, backward ``total``, step the optimizer.

    With ``guard``, the step is skipped when the gradients came out NaN/Inf
    (:func:`step_unless_nonfinite`), except under fp16 (``16-mixed``): there the GradScaler must
    see the overflow to lower its scale, so it does the skipping.

    Args:
        module: the LightningModule running the step (its ``manual_backward`` applies precision
            and DDP; its trainer tells whether a GradScaler is active).
        optimizer: the (Lightning-wrapped) optimizer of this update.
        total: the scalar loss to back-propagate.
        terms: the loss terms of this update, named in the warning of a skipped step.
        parameters: the parameters ``optimizer`` updates.
        guard: the run's non-finite guard, or None to step unconditionally.
        update: kind of update (``"init"``, ``"discriminator"``, ``"generator"``).
    """
    optimizer.zero_grad(set_to_none=True)
    module.manual_backward(total)
    if guard is None or getattr(module.trainer.precision_plugin, "scaler", None) is not None:
        optimizer.step()
        return
    where = f"step {module.global_step} (epoch {module.current_epoch})"
    step_unless_nonfinite(optimizer, parameters, terms, guard, update=update, where=where)
