"""Weights & Biases helpers: evaluation media, per-image tables, clean run endings.

wandb is imported inside the functions (DESIGN.md rule 10): nothing here needs it at import time,
and :func:`finish_wandb` never imports it when no run was started.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from animegan.evaluation.evaluator import EvaluationResult

__all__ = ["finish_wandb", "log_evaluation", "sweep_run_settings", "wandb_loggers"]


def wandb_loggers(loggers: Iterable[Any]) -> list[Any]:
    """The Lightning ``WandbLogger`` instances among ``loggers`` (none when wandb is unused)."""
    if "lightning.pytorch.loggers.wandb" not in sys.modules:
        return []
    from lightning.pytorch.loggers import WandbLogger

    return [logger for logger in loggers if isinstance(logger, WandbLogger)]


def _table_rows(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    import wandb

    score_names = [name for name in ("lpips_content", "identity") if name in result.metrics]
    columns = ["index", "photo_file", "photo", "stylized", *score_names]
    rows: list[list[Any]] = []
    kept = result.photos.shape[0]
    for row in result.per_image:
        index = int(row["index"])
        photo = stylized = None
        if index < kept:
            photo = wandb.Image(result.photos[index].permute(1, 2, 0).numpy())
            stylized = wandb.Image(result.fakes[index].permute(1, 2, 0).numpy())
        scores = [None if math.isnan(v := float(row[name])) else v for name in score_names]
        rows.append([index, Path(row["photo"]).name, photo, stylized, *scores])
    return columns, rows


def log_evaluation(
    logger: Any, result: EvaluationResult, *, step: int, grid_path: str | Path | None = None
) -> None:
    """Log a sample grid and the per-image score table of one evaluation to W&B.

    Scalar metrics go through ``LightningModule.log`` (and so to every logger); this adds what only
    W&B shows: the fixed-photo ``photo | stylized`` grid (``eval/samples``) and a table with one row
    per photo (``eval/per_image``: file, photo and stylized thumbnails for the grid photos,
    content LPIPS and identity).

    Args:
        logger: a Lightning ``WandbLogger``.
        result: the evaluation.
        step: trainer global step (W&B's x axis, ``trainer/global_step``).
        grid_path: PNG of the grid (written by the caller); skipped when ``None``.
    """
    if grid_path is not None:
        logger.log_image(
            key="eval/samples",
            images=[str(grid_path)],
            caption=["rows: fixed validation photos; columns: photo | stylized"],
            step=step,
        )
    columns, rows = _table_rows(result)
    logger.log_table(key="eval/per_image", columns=columns, data=rows, step=step)


def sweep_run_settings(
    name: str, job_num: int | None, overrides: Sequence[str], tags: Sequence[str] = ()
) -> dict[str, Any]:
    """W&B run name and tags for one job of a Hydra sweep.

    Args:
        name: the experiment name (also the W&B group, so a sweep's runs sit together).
        job_num: Hydra job number in a multirun, ``None`` for a single run.
        overrides: the job's command-line overrides (``["loss=shinkai", "seed=1"]``).
        tags: tags from the config (kept first).

    Returns:
        ``{"name": ..., "tags": [...]}``: ``<name>-<job_num>`` and the tags plus one tag per
        override (W&B caps a tag at 64 characters).
    """
    run_name = name if job_num is None else f"{name}-{job_num}"
    all_tags = list(dict.fromkeys([*tags, *(o[:64] for o in overrides)]))
    return {"name": run_name, "tags": all_tags}


def finish_wandb(exit_code: int = 0) -> None:
    """Finish the current W&B run, if any (one run per Hydra multirun job).

    Without it, the next job of a sweep running in the same process would log into the previous
    job's run. Safe to call when wandb was never imported or no run is active.

    Args:
        exit_code: 0 for success; non-zero marks the run as failed.
    """
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=exit_code)
