"""How the module's steps are logged: loss terms as ``loss/<name>_step|epoch``, ``val/<name>``.

The log keys are part of the run's output (loggers, ``metrics.csv``, monitors of checkpoint
callbacks): ``loss/<term>_step`` (this rank's value, every step), ``loss/<term>_epoch`` (mean over
the epoch and the ranks), ``train/phase`` (0 = init phase, 1 = GAN phase; older runs
logged it as ``phase_gan``), ``train/skipped_updates`` (with the NaN guard) and ``val/<term>``.
"""

from __future__ import annotations

from collections.abc import Mapping

import lightning as L
from torch import Tensor

from animegan.training.numerics import NonFiniteGuard
from animegan.training.schedules import Phase


def log_train_terms(
    module: L.LightningModule,
    terms: Mapping[str, Tensor],
    *,
    batch_size: int,
    phase: Phase,
    guard: NonFiniteGuard | None,
) -> None:
    """Log one training batch's loss terms, the phase and the skipped-update count.

    Args:
        module: the LightningModule whose ``training_step`` is running.
        terms: the batch's unweighted loss terms and totals (scalar tensors).
        batch_size: images in the batch (for the epoch means).
        phase: the batch's phase, ``"init"`` or ``"gan"``.
        guard: the run's NaN guard (its count of skipped updates is logged), or None.
    """
    values = {name: value.detach() for name, value in terms.items()}
    # Step values are this rank's (no all-reduce in the hot loop); epoch means are reduced across
    # ranks once, at epoch end.
    for suffix, per_step in (("step", True), ("epoch", False)):
        module.log_dict(
            {f"loss/{name}_{suffix}": value for name, value in values.items()},
            on_step=per_step,
            on_epoch=not per_step,
            batch_size=batch_size,
            sync_dist=not per_step,
        )
    module.log("train/phase", float(phase == "gan"), on_step=True, batch_size=batch_size)
    if guard is not None:
        skipped = float(guard.skipped)
        module.log("train/skipped_updates", skipped, on_step=True, batch_size=batch_size)


def log_validation_terms(
    module: L.LightningModule, terms: Mapping[str, Tensor], *, batch_size: int
) -> None:
    """Log one validation batch's terms as ``val/<name>``, averaged over the epoch and the ranks.

    Args:
        module: the LightningModule whose ``validation_step`` is running.
        terms: the batch's terms (scalar tensors).
        batch_size: photos in the batch.
    """
    module.log_dict(
        {f"val/{name}": value for name, value in terms.items()},
        on_epoch=True,
        batch_size=batch_size,
        sync_dist=True,
    )
