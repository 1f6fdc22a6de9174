"""`make train` / `python -m animegan.cli.train [overrides]`: compose, check, instantiate, fit.

The only module (with the other cli/ entry points) that reads a DictConfig. It reads top to bottom:
value checks, process-wide switches, up-front checks (resume file, weights, data), objects,
trainer, fit. A resume checkpoint is untrusted data: it is read with ``weights_only=True``, its
``animegan`` section is type-checked, and its stored config is never instantiated (the run is
built from the composed config only).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from animegan.cli.common import (
    USER_ERRORS,
    instantiate,
    names_config_keys,
    run_reporting_user_errors,
)
from animegan.cli.validate import check_train_config
from animegan.cli.wandb_run import apply_sweep_settings, finish_wandb
from animegan.models.weights import load_weights_file
from animegan.training import SaveConfigCallback
from animegan.training.checkpoint_state import CHECKPOINT_FORMAT
from animegan.utils.stored_config import StoredConfigError, read_checkpoint_meta

log = logging.getLogger(__name__)

__all__ = [
    "USER_ERRORS",
    "build_callbacks",
    "build_loggers",
    "check_resume_checkpoint",
    "instantiate",
    "train",
]


def _is_launcher_rank() -> bool:
    """True in the process the user started (DDP children get LOCAL_RANK/ NODE_RANK > 0)."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def build_loggers(logger_cfg: DictConfig | None) -> list[Any] | bool:
    """Instantiate every logger in the ``logger`` group; ``False`` when none is configured."""
    if not logger_cfg:
        return False
    return [instantiate(spec, _convert_="all") for spec in logger_cfg.values()]


def build_callbacks(callbacks_cfg: DictConfig | None) -> list[L.Callback]:
    """Instantiate every callback in the ``callbacks`` group (a mapping name → spec)."""
    if not callbacks_cfg:
        return []
    return [instantiate(spec, _convert_="all") for spec in callbacks_cfg.values()]


def check_resume_checkpoint(path: str | Path) -> None:
    """Check a resume file before anything is built: readable, ours, plain state.

    Args:
        path: the ``ckpt_path`` given by the user.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        WeightsFileError: empty, truncated, not a PyTorch file, or holding Python objects.
        StoredConfigError: not a checkpoint of this repository, or its ``animegan`` section
            has values of the wrong type.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"ckpt_path={path} does not exist; pass a checkpoint written by this "
            "repository, e.g. outputs/<name>/<time>/checkpoints/last.ckpt"
        )
    payload = load_weights_file(path, what="checkpoint")
    meta = read_checkpoint_meta(payload, source=str(path), max_format=CHECKPOINT_FORMAT)
    if meta is None or not isinstance(payload.get("state_dict"), dict):
        raise StoredConfigError(
            f"{path} is not a training checkpoint of this repository (no 'animegan' section or "
            "no state_dict), so it cannot be resumed; to start from published generator "
            "weights, train without ckpt_path"
        )


@names_config_keys
def train(cfg: DictConfig) -> Path | None:
    """Run one training job described by ``cfg``; returns the last checkpoint path (or None)."""
    check_train_config(cfg)  # before anything is built, scanned or loaded
    if cfg.ckpt_path is not None:
        check_resume_checkpoint(cfg.ckpt_path)
    apply_sweep_settings(cfg)  # before run_config: W&B run name/tags of a multirun job
    L.seed_everything(cfg.seed, workers=True)
    torch.set_float32_matmul_precision(cfg.matmul_precision)
    # cuDNN convolutions use TF32 by default; "highest" means true fp32 for them as well.
    torch.backends.cudnn.allow_tf32 = cfg.matmul_precision != "highest"
    run_config = OmegaConf.to_container(cfg, resolve=True)
    output_dir = Path(cfg.paths.output_dir)

    # Weights first: a missing VGG file stops the run before any data work or step.
    feature_extractor = instantiate(cfg.model.vgg, _convert_="all")
    generator = instantiate(cfg.model.generator, _convert_="all")
    discriminator = instantiate(cfg.model.discriminator, _convert_="all")
    objective = instantiate(cfg.loss, _convert_="all")

    datamodule = instantiate(cfg.data, _convert_="all")
    if _is_launcher_rank():
        # Up-front data check (missing/empty folders, unreadable files) before the trainer starts;
        # Lightning calls these again, and both are cached/idempotent.
        datamodule.prepare_data()
        datamodule.setup("fit")

    module = instantiate(
        cfg.module,
        generator=generator,
        discriminator=discriminator,
        feature_extractor=feature_extractor,
        objective=objective,
        _convert_="all",
    )
    # Set after instantiation: passed as a kwarg, Hydra would instantiate its `_target_` entries.
    module.run_config = run_config
    callbacks = build_callbacks(cfg.callbacks)
    callbacks.append(SaveConfigCallback(output_dir / "config_resolved.yaml", run_config))
    loggers = build_loggers(cfg.logger)
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers, _convert_="all"
    )
    for logger in trainer.loggers:
        logger.log_hyperparams(run_config)

    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
    except BaseException:
        finish_wandb(exit_code=1)
        raise
    # One W&B run per job: the next job of a multirun (same process) must start a new run.
    finish_wandb()

    checkpoint = trainer.checkpoint_callback
    last = getattr(checkpoint, "last_model_path", "") if checkpoint is not None else ""
    if trainer.is_global_zero:
        log.info("run folder: %s", output_dir)
        if last:
            log.info("last checkpoint: %s", last)
    return Path(last) if last else None


@hydra.main(version_base="1.3", config_path="../../../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    run_reporting_user_errors(train, cfg)


if __name__ == "__main__":
    main()
