"""The job folders of a Hydra sweep, read as data: each job's arm, seed and last metric values.

A job is any folder holding ``config_resolved.yaml`` (written by every training run) and a
``metrics.csv`` (CSV logger). The arm of a job is a config value (``augmentation.name`` for the
augmentation study), its seed is ``seed``, its metrics are the last logged value of each metric
column. An arm may be named by several keys (``group_by: [model.generator.attention,
module.schedule]`` for the architecture study): their values are joined with ``/``
(``se/cosine``). Study settings (metrics, decisive metric, baseline) come from the ``study``
section of the jobs' configs.

A job folder is untrusted data: its YAML is read with ``yaml.safe_load`` (no Python tags) and
only plain values are taken from it (the arm: a name or number, the seed: an integer, the study
settings: names); anything else (a mapping naming a ``_target_``, a list where a name belongs)
is refused with one line naming the file and the key. Nothing read from a job is instantiated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from animegan.evaluation.metrics_csv import read_metrics_csv
from animegan.utils.stored_config import StoredConfigError

__all__ = [
    "ARM_SEPARATOR",
    "CONFIG_FILE",
    "METRICS_FILE",
    "JobResult",
    "Mode",
    "StudySettings",
    "arm_label",
    "find_jobs",
    "last_metric_values",
    "read_job",
    "study_settings",
]

CONFIG_FILE = "config_resolved.yaml"
METRICS_FILE = "metrics.csv"
# Joins the values of several group_by keys into one arm name ("se/cosine").
ARM_SEPARATOR = "/"
# Metric columns taken when neither the study config nor the caller names any.
DEFAULT_METRIC_PREFIXES = ("val/", "metrics/")
Mode = Literal["min", "max"]


@dataclass(frozen=True)
class StudySettings:
    """What to compare and how (the ``study`` section of an experiment config).

    Attributes:
        group_by: dotted config key whose value names a job's arm (e.g. ``augmentation.name``),
            or several keys whose values, joined with ``/``, name it (``se/cosine`` for
            ``(model.generator.attention, module.schedule)``).
        metrics: metric columns to tabulate; empty = every ``val/*`` and ``metrics/*`` column.
        decisive_metric: the metric that decides; ``None`` = the first of ``metrics``.
        mode: ``"min"`` when lower is better for the decisive metric, ``"max"`` otherwise.
        baseline: arm the others are compared against (``None``: no comparison column).
    """

    group_by: str | tuple[str, ...] = "augmentation.name"
    metrics: tuple[str, ...] = ()
    decisive_metric: str | None = None
    mode: Mode = "min"
    baseline: str | None = None


@dataclass(frozen=True)
class JobResult:
    """One finished (or failed) job of a sweep.

    Attributes:
        path: the job folder.
        arm: value of the study's ``group_by`` key, or the values of its keys joined with ``/``
            (``"(unset)"`` for a missing key).
        seed: the job's ``seed`` (``None`` when missing).
        metrics: last logged value of each metric column, NaN-free.
        samples: the job's final sample grid (``samples/last.png``) if written.
    """

    path: Path
    arm: str
    seed: int | None
    metrics: dict[str, float]
    samples: Path | None = None


def find_jobs(sweep_dir: str | Path) -> list[Path]:
    """Job folders under ``sweep_dir`` (any depth), sorted by path.

    Several sweeps under one parent folder are found together, so seeds run on different days
    can be pooled by pointing at the parent.

    Args:
        sweep_dir: a Hydra sweep folder (``multirun/<name>/<time>``) or a parent of several.

    Returns:
        Folders that contain ``config_resolved.yaml``.

    Raises:
        FileNotFoundError: ``sweep_dir`` does not exist or holds no job.
    """
    root = Path(sweep_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"sweep folder {root} does not exist")
    jobs = sorted(path.parent for path in root.rglob(CONFIG_FILE))
    if not jobs:
        raise FileNotFoundError(
            f"no job folders (with {CONFIG_FILE}) under {root}: pass the folder a sweep wrote, "
            "e.g. multirun/augmentation_ablation/<date_time>"
        )
    return jobs


def _lookup(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _is_metric(name: str, wanted: Sequence[str]) -> bool:
    if wanted:
        return name in wanted
    return name.startswith(DEFAULT_METRIC_PREFIXES)


def last_metric_values(metrics_csv: str | Path, metrics: Sequence[str] = ()) -> dict[str, float]:
    """Last non-empty value of each metric column of a Lightning ``metrics.csv``.

    Lightning's CSV logger writes one row per logging call with empty cells for metrics not
    logged in that call, so "the last value" is the last non-empty, finite cell of a column.

    Args:
        metrics_csv: the CSV file.
        metrics: columns to read; empty = every ``val/*`` and ``metrics/*`` column.

    Returns:
        ``{column: value}`` for the wanted columns that have at least one finite value.
    """
    table = read_metrics_csv(metrics_csv)
    return table.last_finite(name for name in table.columns if _is_metric(name, metrics))


def _read_config(job_dir: Path) -> dict[str, Any]:
    path = job_dir / CONFIG_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StoredConfigError(
            f"{path} is not a plain YAML config ({first}); remove the job folder or re-run the job"
        ) from None
    return data if isinstance(data, dict) else {}


def _plain_name(value: Any, key: str, source: Path) -> str | None:
    """A config value that names an arm: a string or a number (None when missing)."""
    if value is None:
        return None
    if isinstance(value, str | int | float):  # bool included: an on/off arm
        return str(value)
    shown = (
        f"a mapping naming _target_={value['_target_']!r}"
        if isinstance(value, Mapping) and "_target_" in value
        else f"a {type(value).__name__}"
    )
    raise StoredConfigError(
        f"{source}: {key} must be a plain name or number, got {shown}; pass --group-by "
        "<a key holding a name> or remove the job folder"
    )


def _names(value: Any, key: str, source: Path, what: str = "metric name") -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        raise StoredConfigError(
            f"{source}: study.{key} must be a {what} or a list of names, got {type(value).__name__}"
        )
    return tuple(items)


def _group_keys(group_by: str | Sequence[str]) -> tuple[str, ...]:
    return (group_by,) if isinstance(group_by, str) else tuple(group_by)


def arm_label(group_by: str | Sequence[str]) -> str:
    """Header of the arm column, named after the grouping key(s).

    ``augmentation`` for ``augmentation.name`` (the key's first part), ``attention/schedule``
    for ``(model.generator.attention, module.schedule)`` (the last part of each of several keys).
    """
    keys = _group_keys(group_by)
    if len(keys) == 1:
        return keys[0].split(".")[0] or "arm"
    return ARM_SEPARATOR.join(key.split(".")[-1] for key in keys)


def read_job(
    job_dir: str | Path, group_by: str | Sequence[str], metrics: Sequence[str] = ()
) -> JobResult:
    """Arm, seed, metrics and sample grid of one job folder.

    Args:
        job_dir: folder with ``config_resolved.yaml`` (and, once trained, ``metrics.csv``).
        group_by: dotted config key naming the arm, or several (values joined with ``/``).
        metrics: metric columns to read (empty: every ``val/*`` and ``metrics/*``).

    Returns:
        The job; ``metrics`` is empty when no ``metrics.csv`` or no value was found.
    """
    job_dir = Path(job_dir)
    config = _read_config(job_dir)
    source = job_dir / CONFIG_FILE
    parts = [_plain_name(_lookup(config, key), key, source) for key in _group_keys(group_by)]
    arm = ARM_SEPARATOR.join("(unset)" if part is None else part for part in parts)
    seed = config.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise StoredConfigError(f"{source}: seed must be an integer, got {type(seed).__name__}")
    metrics_files = sorted(job_dir.rglob(METRICS_FILE))
    values = last_metric_values(metrics_files[0], metrics) if metrics_files else {}
    samples = job_dir / "samples" / "last.png"
    return JobResult(
        path=job_dir,
        arm=arm,
        seed=seed,
        metrics=values,
        samples=samples if samples.is_file() else None,
    )


def study_settings(job_dir: str | Path, **overrides: Any) -> StudySettings:
    """Study settings from a job's ``study`` config section, with explicit overrides on top.

    Args:
        job_dir: any job folder of the sweep.
        **overrides: :class:`StudySettings` fields; ``None`` values are ignored.

    Returns:
        The merged settings.
    """
    source = Path(job_dir) / CONFIG_FILE
    section = _read_config(Path(job_dir)).get("study") or {}
    if not isinstance(section, Mapping) or "_target_" in section:
        raise StoredConfigError(
            f"{source}: study must be a mapping of plain settings, got "
            + ("one naming a _target_" if isinstance(section, Mapping) else type(section).__name__)
        )
    values: dict[str, Any] = {}
    group_by = section.get("group_by")
    if isinstance(group_by, list | tuple):
        values["group_by"] = _names(group_by, "group_by", source, what="config key")
    for key in ("group_by", "decisive_metric", "mode", "baseline"):
        if key in values:
            continue
        value = section.get(key)
        if value is not None:
            name = _plain_name(value, f"study.{key}", source)
            values[key] = name
    if section.get("metrics") is not None:
        values["metrics"] = _names(section["metrics"], "metrics", source)
    values.update({key: value for key, value in overrides.items() if value is not None})
    if "metrics" in values:
        values["metrics"] = tuple(values["metrics"])
    if not isinstance(values.get("group_by", ""), str):
        values["group_by"] = tuple(values["group_by"])
    if values.get("mode", "min") not in ("min", "max"):
        raise ValueError(f"study mode must be 'min' or 'max', got {values['mode']!r}")
    return StudySettings(**values)
