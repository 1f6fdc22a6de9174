"""Up-front checks of the values a user types, right after Hydra composes the config.

``trainer.max_epochs=abc`` or a zero learning rate used to surface only after the weights were
loaded and the data scanned, as a long traceback from deep inside Lightning or torch. These checks
run first and stop with one :class:`ConfigValueError` line naming the key, the bad value and a
valid example. They only read values; nothing is built here.
"""

from __future__ import annotations

import math
import re
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from animegan.models.attention import ATTENTIONS
from animegan.training.schedules import SCHEDULES

__all__ = ["ConfigValueError", "check_eval_config", "check_train_config"]

MATMUL_PRECISIONS = ("highest", "high", "medium")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_MISSING = object()


class ConfigValueError(ValueError):
    """A config value has the wrong type or range (message: key, value, a valid example)."""


def _value(cfg: DictConfig, key: str) -> Any:
    """The value at dotted ``key`` (resolved), or ``_MISSING`` when the key does not exist."""
    return OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=False)


def _fail(key: str, value: Any, expected: str, example: str) -> ConfigValueError:
    return ConfigValueError(
        f"{key}={value!r} is not valid: expected {expected}, e.g. {key}={example}"
    )


def _check_int(
    cfg: DictConfig,
    key: str,
    *,
    minimum: int,
    example: str,
    allow_none: bool = False,
) -> None:
    value = _value(cfg, key)
    if value is _MISSING or (value is None and allow_none):
        return
    # bool is an int subclass: `data.batch_size=true` is not a size.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(key, value, f"a whole number >= {minimum}", example)
    if value < minimum:
        raise _fail(key, value, f"a whole number >= {minimum}", example)


def _check_positive_float(cfg: DictConfig, key: str, *, example: str) -> None:
    value = _value(cfg, key)
    if value is _MISSING:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise _fail(key, value, "a finite number > 0", example)


def _check_betas(cfg: DictConfig, key: str) -> None:
    value = _value(cfg, key)
    if value is _MISSING or value is None:
        return
    items = list(value) if isinstance(value, ListConfig | list | tuple) else None
    if (
        items is None
        or len(items) != 2
        or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in items)
        or not all(0.0 <= b < 1.0 for b in items)
    ):
        raise _fail(key, value, "two numbers in [0, 1)", "[0.5,0.999]")


def _check_choice(cfg: DictConfig, key: str, choices: tuple[str, ...]) -> None:
    value = _value(cfg, key)
    if value is not _MISSING and value not in choices:
        raise _fail(key, value, "one of " + " | ".join(choices), choices[0])


def _check_optional_text(cfg: DictConfig, key: str, example: str) -> None:
    value = _value(cfg, key)
    if value is not _MISSING and value is not None and not isinstance(value, str):
        raise _fail(key, value, "a path", example)


def _check_limit_batches(cfg: DictConfig, key: str) -> None:
    value = _value(cfg, key)
    if value is _MISSING or value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(key, value, "a batch count >= 0 or a fraction in [0, 1]", "8")
    if isinstance(value, int) and value < 0:
        raise _fail(key, value, "a batch count >= 0", "8")
    if isinstance(value, float) and not 0.0 <= value <= 1.0:
        raise _fail(key, value, "a fraction in [0, 1] (or a whole batch count)", "0.25")


def check_train_config(cfg: DictConfig) -> None:
    """Check the values of a composed training config before anything is built.

    Checked: ``seed``; ``trainer.max_epochs`` (whole number >= -1, -1 = no limit),
    ``trainer.max_steps`` (>= -1), ``trainer.limit_train_batches``, ``trainer.log_every_n_steps``
    (>= 1); ``data.batch_size``, ``data.image_size``, ``data.num_val_images`` (>= 1),
    ``data.num_workers`` (>= 0); ``module.init_epochs`` (>= 0), the learning rate (> 0) and betas
    ([0, 1)) of every ``module.*_optimizer``; ``matmul_precision``; ``ckpt_path`` (a path or null);
    ``model.generator.attention``, ``module.schedule``, ``module.eta_min_ratio`` ([0, 1]) and,
    for a cosine schedule, ``trainer.max_epochs`` > ``module.init_epochs``; a
    ``loss.generator_weights.distill_*`` weight > 0 only with a ``module.teacher``.
    Keys a config does not have are skipped.

    Args:
        cfg: the composed ``train`` config.

    Raises:
        ConfigValueError: one line naming the key, the value and a valid example.
    """
    _check_int(cfg, "seed", minimum=0, example="42")
    _check_int(cfg, "trainer.max_epochs", minimum=-1, example="10", allow_none=True)
    _check_int(cfg, "trainer.max_steps", minimum=-1, example="1000", allow_none=True)
    _check_int(cfg, "trainer.log_every_n_steps", minimum=1, example="10", allow_none=True)
    _check_limit_batches(cfg, "trainer.limit_train_batches")
    _check_int(cfg, "data.batch_size", minimum=1, example="12")
    _check_int(cfg, "data.image_size", minimum=1, example="256")
    _check_int(cfg, "data.num_val_images", minimum=1, example="16")
    _check_int(cfg, "data.num_workers", minimum=0, example="4")
    _check_int(cfg, "module.init_epochs", minimum=0, example="10")
    _check_int(cfg, "module.max_consecutive_nonfinite", minimum=0, example="20")
    module = _value(cfg, "module")
    if isinstance(module, DictConfig):
        for name in module:
            if str(name).endswith("_optimizer") and isinstance(module[name], DictConfig):
                _check_positive_float(cfg, f"module.{name}.lr", example="2.0e-4")
                _check_betas(cfg, f"module.{name}.betas")
    _check_choice(cfg, "matmul_precision", MATMUL_PRECISIONS)
    _check_optional_text(cfg, "ckpt_path", "outputs/<run>/checkpoints/last.ckpt")
    _check_choice(cfg, "model.generator.attention", ATTENTIONS)
    target = _value(cfg, "model.generator._target_")
    attention = _value(cfg, "model.generator.attention")
    if attention not in (_MISSING, "none") and target != "animegan.models.Generator":
        # Only the full generator has the gated residual blocks (the lite one and a loaded
        # generator do not take the option).
        raise _fail(
            "model.generator.attention", attention, f"none with {target}", "none (or model=animeganv2)"
        )
    _check_choice(cfg, "module.schedule", SCHEDULES)
    _check_ratio(cfg, "module.eta_min_ratio")
    if _value(cfg, "module.schedule") == "cosine":
        epochs, init_epochs = _value(cfg, "trainer.max_epochs"), _value(cfg, "module.init_epochs")
        init_epochs = init_epochs if isinstance(init_epochs, int) else 0
        if not isinstance(epochs, int) or epochs <= init_epochs:  # None/-1: no end to anneal to
            raise _fail("trainer.max_epochs", epochs, "above module.init_epochs for cosine", "100")
    _check_distill_teacher(cfg)


def _check_distill_teacher(cfg: DictConfig) -> None:
    """A distillation weight > 0 needs ``module.teacher`` (else the first G step would fail)."""
    teacher = _value(cfg, "module.teacher")
    if isinstance(teacher, DictConfig) and OmegaConf.is_missing(teacher, "path"):
        raise ConfigValueError(
            "module.teacher.path is not set: pass the teacher generator, e.g. "
            "module.teacher.path=outputs/<run>/checkpoints/last.ckpt (ours) or a .pt state_dict"
        )
    if teacher is not None:
        return
    for name in ("distill_pixel", "distill_content"):
        key = f"loss.generator_weights.{name}"
        value = _value(cfg, key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            raise ConfigValueError(
                f"{key}={value!r} needs a teacher generator, but module.teacher is null: use "
                "experiment=distill_lite module.teacher.path=<teacher .ckpt or .pt>, "
                f"or set {key}=0"
            )


def _check_ratio(cfg: DictConfig, key: str) -> None:
    value = _value(cfg, key)
    if value is _MISSING:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _fail(key, value, "a number in [0, 1]", "0.0")


def check_eval_config(cfg: DictConfig) -> None:
    """Check the values of a composed ``eval`` config before any weights are loaded.

    Checked: ``ckpt`` (a path or a non-empty list of paths), ``labels`` (null or a list of
    names), ``photo_dir`` / ``anime_dir`` (a path or null), ``device``, ``matmul_precision``,
    ``metrics.image_size`` / ``metrics.batch_size`` (>= 1).

    Args:
        cfg: the composed ``eval`` config.

    Raises:
        ConfigValueError: one line naming the key, the value and a valid example.
    """
    ckpt = _value(cfg, "ckpt")
    example = "outputs/<run>/checkpoints/last.ckpt"
    if ckpt is _MISSING:
        raise ConfigValueError(f"ckpt is required: pass ckpt={example} (or ckpt=[a.ckpt,b.ckpt])")
    if isinstance(ckpt, ListConfig | list):
        if not ckpt or not all(isinstance(item, str) for item in ckpt):
            raise _fail("ckpt", ckpt, "a checkpoint path or a non-empty list of paths", example)
    elif not isinstance(ckpt, str):
        raise _fail("ckpt", ckpt, "a checkpoint path or a list of paths", example)
    labels = _value(cfg, "labels")
    if labels is not _MISSING and labels is not None:
        if not isinstance(labels, ListConfig | list) or not all(
            isinstance(item, str) for item in labels
        ):
            raise _fail("labels", labels, "a list of names", "[baseline,ours]")
    _check_optional_text(cfg, "photo_dir", "data/photos")
    _check_optional_text(cfg, "anime_dir", "data/anime")
    device = _value(cfg, "device")
    if device is not _MISSING and not (isinstance(device, str) and _DEVICE.match(device)):
        raise _fail("device", device, "auto | cpu | cuda | cuda:<index> | mps", "auto")
    _check_choice(cfg, "matmul_precision", MATMUL_PRECISIONS)
    _check_int(cfg, "metrics.image_size", minimum=1, example="256")
    _check_int(cfg, "metrics.batch_size", minimum=1, example="16")
