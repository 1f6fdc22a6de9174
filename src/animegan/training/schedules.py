"""Learning-rate schedules of the module's three optimizers, one per training phase.

``constant`` (the official recipe: fixed rates) builds no scheduler at all, so a constant run is
exactly the run without this file. ``cosine`` anneals each optimizer over the epochs of its own
phase, without warm restarts: the init optimizer over ``init_epochs``, the generator and
discriminator optimizers over ``max_epochs - init_epochs``. The schedulers are stepped once per
epoch (after the phase's last batch of that epoch), so epoch ``k`` of a phase of ``n`` epochs
trains at ``eta_min + (lr - eta_min) * (1 + cos(pi * k / n)) / 2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

Schedule = Literal["constant", "cosine"]
SCHEDULES: tuple[str, ...] = ("constant", "cosine")
# The training phases: ``init`` (content-only generator pretraining), then ``gan``.
Phase = Literal["init", "gan"]


def check_schedule(schedule: str, eta_min_ratio: float) -> None:
    """Raise ``ValueError`` for an unknown schedule or an ``eta_min_ratio`` outside [0, 1]."""
    if schedule not in SCHEDULES:
        raise ValueError(f"module.schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
    if not 0.0 <= eta_min_ratio <= 1.0:
        raise ValueError(f"module.eta_min_ratio must be in [0, 1]; got {eta_min_ratio}")


def build_schedulers(
    optimizers: Sequence[Optimizer],
    schedule: Schedule,
    init_epochs: int,
    eta_min_ratio: float,
    max_epochs: int | None,
) -> list[LRScheduler]:
    """Schedulers for ``(init, generator, discriminator)`` optimizers, in that order.

    Args:
        optimizers: the init, generator and discriminator optimizers.
        schedule: ``"constant"`` (no scheduler: returns ``[]``) or ``"cosine"``.
        init_epochs: epochs of the init phase, >= 0.
        eta_min_ratio: the final learning rate as a fraction of each optimizer's initial one,
            in [0, 1] (``eta_min = eta_min_ratio * lr``).
        max_epochs: the trainer's ``max_epochs`` (total epochs of both phases); required for
            ``"cosine"``.

    Returns:
        ``[]`` for ``"constant"``; three ``CosineAnnealingLR`` otherwise.

    Raises:
        ValueError: unknown schedule, or ``"cosine"`` without a finite ``max_epochs`` above
            ``init_epochs``.
    """
    check_schedule(schedule, eta_min_ratio)
    if schedule == "constant":
        return []
    if max_epochs is None or max_epochs <= init_epochs:
        raise ValueError(
            f"module.schedule=cosine anneals over trainer.max_epochs - module.init_epochs epochs; "
            f"set trainer.max_epochs above init_epochs={init_epochs} (got {max_epochs})"
        )
    # A phase of 0 epochs never steps its scheduler; T_max >= 1 only keeps the constructor valid.
    phase_epochs = (max(1, init_epochs), max_epochs - init_epochs, max_epochs - init_epochs)
    return [
        CosineAnnealingLR(optimizer, T_max=epochs, eta_min=eta_min_ratio * optimizer.defaults["lr"])
        for optimizer, epochs in zip(optimizers, phase_epochs, strict=True)
    ]


def step_schedulers(schedulers: Sequence[LRScheduler], phase: Phase) -> None:
    """Step the schedulers of the phase whose epoch just ended (none for a constant schedule).

    Args:
        schedulers: ``build_schedulers``'s list (empty, or init, generator, discriminator).
        phase: ``"init"`` steps the init scheduler; ``"gan"`` the generator's and the
            discriminator's.
    """
    if not schedulers:
        return
    for scheduler in schedulers[:1] if phase == "init" else schedulers[1:]:
        scheduler.step()


@dataclass(frozen=True)
class LearningRateSchedule:
    """The module's schedule settings (``module.schedule``, ``eta_min_ratio``), checked up front.

    Args:
        schedule: ``"constant"`` or ``"cosine"``.
        init_epochs: epochs of the init phase, >= 0.
        eta_min_ratio: cosine's final learning rate as a fraction of the initial one, in [0, 1].

    Raises:
        ValueError: unknown schedule or ``eta_min_ratio`` outside [0, 1] (at construction).
    """

    schedule: Schedule = "constant"
    init_epochs: int = 0
    eta_min_ratio: float = 0.0

    def __post_init__(self) -> None:
        check_schedule(self.schedule, self.eta_min_ratio)

    def build(self, optimizers: Sequence[Optimizer], max_epochs: int | None) -> list[LRScheduler]:
        """:func:`build_schedulers` for ``optimizers`` (init, generator, discriminator)."""
        return build_schedulers(
            optimizers, self.schedule, self.init_epochs, self.eta_min_ratio, max_epochs
        )
