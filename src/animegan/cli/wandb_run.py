"""W&B run identity for Hydra jobs: one run per job, named and tagged after the sweep.

cli code (reads the Hydra runtime config); the pure parts live in
:mod:`animegan.evaluation.wandb_logging`.
"""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from animegan.evaluation.wandb_logging import finish_wandb, sweep_run_settings

__all__ = ["apply_sweep_settings", "finish_wandb"]

_UNTAGGED_PREFIXES = ("hydra.", "logger", "paths.", "+logger", "~logger")


def apply_sweep_settings(cfg: DictConfig) -> None:
    """Name and tag the ``logger.wandb`` run of this job (in place; no-op without W&B).

    In a Hydra multirun every job becomes its own W&B run ``<name>-<job number>``, tagged with
    the job's overrides (``hydra.*``, ``logger*`` and ``paths.*`` left out); the group stays the
    experiment name, so the runs of one sweep sit side by side. Single runs keep ``name`` and
    the configured tags.

    Args:
        cfg: the composed training config.
    """
    logger_cfg = cfg.get("logger")
    if not logger_cfg or "wandb" not in logger_cfg or not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    # Logging and path settings are not what a sweep varies; leave them out of the tags.
    overrides = [o for o in hydra_cfg.overrides.task if not o.startswith(_UNTAGGED_PREFIXES)]
    settings = sweep_run_settings(
        str(logger_cfg.wandb.name),
        hydra_cfg.job.num if multirun else None,
        overrides if multirun else [],
        list(logger_cfg.wandb.get("tags") or []),
    )
    with open_dict(cfg):
        cfg.logger.wandb.name = settings["name"]
        cfg.logger.wandb.tags = settings["tags"]
