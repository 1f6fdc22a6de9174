"""Training-time evaluation: FID/KID/LPIPS/identity every N epochs on the fixed validation subset."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_only

from animegan.evaluation.evaluator import EvaluationResult, Evaluator, inputs_from_datamodule
from animegan.evaluation.report import write_grid, write_metrics_json
from animegan.evaluation.wandb_logging import log_evaluation, wandb_loggers

log = logging.getLogger(__name__)


class EvaluationCallback(L.Callback):
    """Run an :class:`~animegan.evaluation.Evaluator` after every n-th training epoch.

    The metric networks live here, not in the LightningModule, so they never enter checkpoints,
    ``parameters()`` or optimizers. The same ``Evaluator`` (built from the same ``metrics``
    config) is what ``make eval`` runs, so the value logged for an epoch equals what ``make eval``
    reports for that epoch's checkpoint.

    Logged per evaluation (through ``LightningModule.log``, so to every logger, and usable as a
    ``ModelCheckpoint`` monitor): ``metrics/fid``, ``metrics/kid_mean``, ``metrics/kid_std``,
    ``metrics/lpips_content``, ``metrics/lpips_diversity`` and ``metrics/identity`` (those
    configured). Written on rank 0: ``<dirpath>/epoch_XXX/metrics.json`` (values, protocol and
    per-image scores) and ``grid.png``; with a ``WandbLogger``, the grid and a per-image table.
    Under DDP every rank evaluates its shard and logs the same synced values; files and media are
    written once. Nothing runs during Lightning's sanity check.

    Args:
        evaluator: the metrics; ``None`` disables the callback (``metrics=none``).
        every_n_epochs: evaluate after every n-th epoch, and always after the last one.
        reference_dir: folder of held-out anime images for FID/KID; ``None`` uses the training
            anime images of the datamodule.
        dirpath: folder for the per-epoch ``metrics.json`` and grid; ``None`` writes nothing.
        log_images: send the grid and the per-image table to W&B loggers.
    """

    def __init__(
        self,
        evaluator: Evaluator | None,
        *,
        every_n_epochs: int = 1,
        reference_dir: str | os.PathLike[str] | None = None,
        dirpath: str | os.PathLike[str] | None = None,
        log_images: bool = True,
    ) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.evaluator = evaluator
        self.every_n_epochs = every_n_epochs
        self.reference_dir = reference_dir
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.log_images = log_images
        self.last_result: EvaluationResult | None = None

    def _due(self, trainer: L.Trainer) -> bool:
        epoch = trainer.current_epoch + 1
        max_epochs = trainer.max_epochs
        last = max_epochs is not None and max_epochs > 0 and epoch >= max_epochs  # -1: endless
        return epoch % self.every_n_epochs == 0 or last

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.evaluator is None or trainer.sanity_checking or not self._due(trainer):
            return
        photos, references = inputs_from_datamodule(trainer.datamodule, self.reference_dir)
        result = self.evaluator.evaluate(
            pl_module.generator, photos, references, device=pl_module.device
        )
        self.last_result = result
        # Every rank holds the same synced values: no further reduction, logged on all ranks so
        # a ModelCheckpoint monitoring a metric finds it everywhere.
        pl_module.log_dict(
            {f"metrics/{name}": value for name, value in result.metrics.items()},
            on_step=False,
            on_epoch=True,
            sync_dist=False,
        )
        self._write(trainer, result)

    @rank_zero_only
    def _write(self, trainer: L.Trainer, result: EvaluationResult) -> None:
        epoch = trainer.current_epoch
        summary = ", ".join(f"{name}={value:.4g}" for name, value in result.metrics.items())
        log.info("epoch %d evaluation: %s (%.1f s)", epoch, summary, result.info["seconds"])
        grid_path = None
        if self.dirpath is not None:
            folder = self.dirpath / f"epoch_{epoch:03d}"
            extra = {"epoch": epoch, "global_step": trainer.global_step}
            write_metrics_json(result, folder / "metrics.json", extra=extra)
            if result.photos.shape[0] > 0:
                grid_path = write_grid(result, folder / "grid.png")
        if self.log_images:
            for logger in wandb_loggers(trainer.loggers):
                log_evaluation(logger, result, step=trainer.global_step, grid_path=grid_path)
