"""Aggregate the jobs of a Hydra sweep into a comparison: per-arm mean +- std over seeds.

A job is any folder holding ``config_resolved.yaml`` (written by every training run) and a
``metrics.csv`` (CSV logger). The arm of a job is a config value (``augmentation.name`` for the
augmentation study), its seed is ``seed``, its metrics are the last logged value of each metric
column. An arm may be named by several keys (``group_by: [model.generator.attention,
module.schedule]`` for the architecture study): their values are joined with ``/``
(``se/cosine``). Nothing here knows which metrics exist: validation loss terms (``val/content``) today,
FID/KID/LPIPS (``metrics/fid``) once they are logged, with no code change.

    python -m animegan.experiments.ablation aggregate multirun/augmentation_ablation/<time>

writes ``ablation_runs.csv`` (one row per job), ``ablation_summary.csv``, ``ablation_summary.md``,
``ablation_plot.png`` and ``ablation_samples.png`` (every job's final sample grid, arms x seeds)
into the sweep folder (or ``--out``). Study settings (metrics, decisive metric, baseline) are read
from the ``study`` section of the jobs' configs; flags override them.

The table's verdict column compares each arm with the baseline on the decisive metric and says
``better`` or ``worse`` only where the spread over seeds allows it (see :func:`verdict`);
everywhere else it says why there is no verdict.

A job folder is untrusted data: its YAML is read with ``yaml.safe_load`` (no Python tags) and
only plain values are taken from it (the arm: a name or number, the seed: an integer, the study
settings: names); anything else (a mapping naming a ``_target_``, a list where a name belongs)
is refused with one line naming the file and the key. Nothing read from a job is instantiated.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from animegan.evaluation.metrics_csv import read_metrics_csv
from animegan.utils.stored_config import StoredConfigError

__all__ = [
    "AggregateResult",
    "ArmSummary",
    "JobResult",
    "StudySettings",
    "aggregate",
    "find_jobs",
    "last_metric_values",
    "main",
    "read_job",
    "study_settings",
    "summarize",
    "verdict",
    "write_markdown",
    "write_plot",
    "write_sample_grids",
]

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class ArmSummary:
    """Statistics of one arm over its seeds.

    Attributes:
        arm: arm name.
        seeds: seeds of the jobs that reported each metric (sorted; ``None`` for unknown).
        values: per metric, the jobs' values in seed order.
    """

    arm: str
    seeds: tuple[int | None, ...]
    values: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def num_seeds(self) -> int:
        """Number of jobs in the arm."""
        return len(self.seeds)

    def mean(self, metric: str) -> float:
        """Mean over seeds (NaN when no job reported ``metric``)."""
        values = self.values.get(metric, ())
        return statistics.fmean(values) if values else math.nan

    def std(self, metric: str) -> float:
        """Sample standard deviation over seeds (ddof 1; NaN with fewer than two values)."""
        values = self.values.get(metric, ())
        return statistics.stdev(values) if len(values) >= 2 else math.nan


@dataclass(frozen=True)
class AggregateResult:
    """What :func:`aggregate` found and wrote.

    Attributes:
        jobs: jobs with at least one metric value.
        incomplete: job folders without metrics (failed or still running).
        arms: per-arm statistics, baseline first, then by name.
        settings: the study settings used.
        files: written files by kind (``runs_csv``, ``summary_csv``, ``markdown``, ``plot`` and,
            when the jobs wrote sample grids, ``samples``).
    """

    jobs: list[JobResult]
    incomplete: list[Path]
    arms: list[ArmSummary]
    settings: StudySettings
    files: dict[str, Path]


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
    """Header of the arm column: ``augmentation`` for ``augmentation.name`` (the key's first
    part), ``attention/schedule`` for ``(model.generator.attention, module.schedule)`` (the last
    part of each of several keys)."""
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


def summarize(
    jobs: Sequence[JobResult], metrics: Sequence[str], baseline: str | None = None
) -> list[ArmSummary]:
    """Group jobs by arm and collect each metric's values over seeds.

    Args:
        jobs: jobs with metrics.
        metrics: metric columns to collect.
        baseline: arm listed first, if present.

    Returns:
        One :class:`ArmSummary` per arm: the baseline first, then the others by name.
    """
    by_arm: dict[str, list[JobResult]] = {}
    for job in jobs:
        by_arm.setdefault(job.arm, []).append(job)
    order = sorted(by_arm, key=lambda arm: (arm != baseline, arm))
    arms = []
    for arm in order:
        members = sorted(by_arm[arm], key=lambda job: (job.seed is None, job.seed or 0))
        values = {
            metric: tuple(job.metrics[metric] for job in members if metric in job.metrics)
            for metric in metrics
        }
        arms.append(ArmSummary(arm, tuple(job.seed for job in members), values))
    return arms


def _format(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "n/a"
    if math.isnan(std):
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {std:.2g}"


def _best_arm(arms: Sequence[ArmSummary], metric: str, mode: Mode) -> str | None:
    scored = [(arm.mean(metric), arm.arm) for arm in arms if not math.isnan(arm.mean(metric))]
    if not scored:
        return None
    return (min(scored) if mode == "min" else max(scored))[1]


def verdict(arm: ArmSummary, baseline: ArmSummary, metric: str, mode: Mode) -> str:
    """Whether ``arm`` beats ``baseline`` on ``metric``, said only where the seed spread allows.

    The rule: both arms need at least two seeds (a spread), and the difference of the means must
    exceed the sum of the two sample standard deviations, i.e. the mean ± 1 std bands do not
    overlap. With three seeds each and equal spreads that is a Welch t of at least 2.45. The
    Welch t statistic is shown beside a verdict.

    Args:
        arm: the arm judged.
        baseline: the arm it is compared with.
        metric: the decisive metric.
        mode: ``"min"`` if lower is better, ``"max"`` otherwise.

    Returns:
        ``"better (t = …)"`` or ``"worse (t = …)"``; otherwise the reason there is no verdict:
        ``"no verdict: n < 2"`` or ``"no verdict: within spread"``.
    """
    a = arm.values.get(metric, ())
    b = baseline.values.get(metric, ())
    if len(a) < 2 or len(b) < 2:
        return "no verdict: n < 2"
    delta = arm.mean(metric) - baseline.mean(metric)
    if abs(delta) <= arm.std(metric) + baseline.std(metric):
        return "no verdict: within spread"
    better = delta < 0 if mode == "min" else delta > 0
    error = math.sqrt(arm.std(metric) ** 2 / len(a) + baseline.std(metric) ** 2 / len(b))
    word = "better" if better else "worse"
    return f"{word} (t = {delta / error:+.2g})" if error > 0 else word


def write_markdown(
    arms: Sequence[ArmSummary], settings: StudySettings, metrics: Sequence[str], path: Path
) -> str:
    """Markdown comparison table (mean ± sample std over seeds) with the decisive metric's verdict.

    Args:
        arms: per-arm statistics.
        settings: study settings (decisive metric, mode, baseline, group_by).
        metrics: columns, in order.
        path: file to write.

    Returns:
        The Markdown text written.
    """
    decisive = settings.decisive_metric
    best = _best_arm(arms, decisive, settings.mode) if decisive else None
    base = next((arm for arm in arms if arm.arm == settings.baseline), None)
    show_delta = decisive is not None and base is not None
    header = [arm_label(settings.group_by), "n seeds"]
    header += [f"{metric}{' (decisive)' if metric == decisive else ''}" for metric in metrics]
    if show_delta:
        header += [f"Δ {decisive} vs {settings.baseline}", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for arm in arms:
        cells = [f"`{arm.arm}`", str(arm.num_seeds)]
        for metric in metrics:
            text = _format(arm.mean(metric), arm.std(metric))
            cells.append(f"**{text}**" if metric == decisive and arm.arm == best else text)
        if show_delta:
            assert decisive is not None and base is not None
            delta = arm.mean(decisive) - base.mean(decisive)
            cells.append("—" if arm is base or math.isnan(delta) else f"{delta:+.3g}")
            cells.append("—" if arm is base else verdict(arm, base, decisive, settings.mode))
        lines.append("| " + " | ".join(cells) + " |")
    notes = ["", "Mean ± sample standard deviation over seeds (last logged value of each run)."]
    if decisive is not None:
        better = "lower" if settings.mode == "min" else "higher"
        notes.append(
            f"Decisive metric: `{decisive}` ({better} is better); best mean: `{best}`. "
            "A difference smaller than the spread over seeds is not evidence."
        )
    if show_delta:
        notes.append(
            f"Verdict vs `{settings.baseline}`: `better`/`worse` only when both arms have at "
            "least 2 seeds and |Δ| exceeds the sum of their standard deviations (the mean ± std "
            "bands do not overlap); t = Welch's t statistic."
        )
    text = "\n".join(lines + notes) + "\n"
    path.write_text(text)
    return text


def _write_summary_csv(arms: Sequence[ArmSummary], metrics: Sequence[str], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        header = ["arm", "n_seeds", "seeds"]
        for metric in metrics:
            header += [f"{metric}/mean", f"{metric}/std", f"{metric}/n"]
        writer.writerow(header)
        for arm in arms:
            row: list[Any] = [arm.arm, arm.num_seeds, " ".join(str(s) for s in arm.seeds)]
            for metric in metrics:
                mean, std = arm.mean(metric), arm.std(metric)
                row += [
                    "" if math.isnan(mean) else repr(mean),
                    "" if math.isnan(std) else repr(std),
                    len(arm.values.get(metric, ())),
                ]
            writer.writerow(row)


def _write_runs_csv(
    jobs: Sequence[JobResult], metrics: Sequence[str], path: Path, sweep_dir: Path
) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arm", "seed", "job_dir", *metrics])
        for job in sorted(jobs, key=lambda j: (j.arm, j.seed is None, j.seed or 0)):
            values = [repr(job.metrics[m]) if m in job.metrics else "" for m in metrics]
            # Relative to the sweep folder, so a copied report does not point into /tmp.
            where = (
                job.path.relative_to(sweep_dir) if job.path.is_relative_to(sweep_dir) else job.path
            )
            writer.writerow([job.arm, "" if job.seed is None else job.seed, where, *values])


def write_plot(
    arms: Sequence[ArmSummary], metrics: Sequence[str], path: Path, title: str = ""
) -> Path:
    """One panel per metric (rows of three): per-arm mean with ±1 std error bars, seeds as dots.

    Args:
        arms: per-arm statistics (x axis in this order).
        metrics: one panel each.
        path: PNG file to write.
        title: figure title.

    Returns:
        ``path``.
    """
    # The object-oriented API only: no pyplot state, no backend switch for the whole process.
    from matplotlib.figure import Figure

    panels = max(1, len(metrics))
    columns = min(3, panels)  # wrap long metric lists into rows of three panels
    rows = math.ceil(panels / columns)
    width = max(4.0, 1.2 * len(arms) + 1.5)
    figure = Figure(figsize=(width * columns, 3.6 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    axes = [axis for row in grid for axis in row]
    for axis in axes[len(metrics) :]:
        axis.set_visible(False)
    positions = list(range(len(arms)))
    for axis, metric in zip(axes, metrics, strict=False):
        means = [arm.mean(metric) for arm in arms]
        stds = [0.0 if math.isnan(arm.std(metric)) else arm.std(metric) for arm in arms]
        axis.errorbar(positions, means, yerr=stds, fmt="o", capsize=6, markersize=7, zorder=3)
        for position, arm in zip(positions, arms, strict=True):
            values = arm.values.get(metric, ())
            offsets = [position + 0.12 * (i - (len(values) - 1) / 2) for i in range(len(values))]
            axis.scatter(offsets, values, s=12, alpha=0.5, color="gray", zorder=2)
        axis.set_xticks(positions, [arm.arm for arm in arms], rotation=30, ha="right")
        axis.set_xlim(-0.6, len(arms) - 0.4)
        axis.set_title(metric)
        axis.grid(axis="y", alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=120)
    return path


def write_sample_grids(
    jobs: Sequence[JobResult], arms: Sequence[ArmSummary], path: Path
) -> Path | None:
    """The jobs' final sample grids side by side: one row per arm, one column per seed.

    Args:
        jobs: jobs (those without ``samples`` leave an empty cell).
        arms: row order.
        path: PNG file to write.

    Returns:
        ``path``, or ``None`` (nothing written) when no job has a sample grid.
    """
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    cells = {(job.arm, job.seed): job.samples for job in jobs if job.samples is not None}
    if not cells:
        return None
    seeds = sorted({job.seed for job in jobs}, key=lambda seed: (seed is None, seed or 0))
    figure = Figure(figsize=(2.6 * len(seeds), 3.2 * len(arms)), layout="constrained")
    axes = figure.subplots(len(arms), len(seeds), squeeze=False)
    for row, arm in enumerate(arms):
        for col, seed in enumerate(seeds):
            axis = axes[row][col]
            axis.axis("off")
            grid = cells.get((arm.arm, seed))
            if grid is not None:
                axis.imshow(imread(grid))
            axis.set_title(f"{arm.arm}, seed {seed}" + ("" if grid else " (none)"), fontsize=9)
    figure.savefig(path, dpi=120)
    return path


def aggregate(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    group_by: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    decisive_metric: str | None = None,
    mode: Mode | None = None,
    baseline: str | None = None,
) -> AggregateResult:
    """Tabulate and plot every job of a sweep.

    Args:
        sweep_dir: sweep folder (or a parent of several sweeps).
        out_dir: where to write; default ``sweep_dir``.
        group_by / metrics / decisive_metric / mode / baseline: override the ``study`` section
            of the jobs' configs (see :class:`StudySettings`).

    Returns:
        :class:`AggregateResult` with the written files.

    Raises:
        FileNotFoundError: no job folder, or no job with any of the metrics.
    """
    sweep_dir = Path(sweep_dir).expanduser()
    job_dirs = find_jobs(sweep_dir)
    settings = study_settings(
        job_dirs[0],
        group_by=group_by,
        metrics=tuple(metrics) if metrics else None,
        decisive_metric=decisive_metric,
        mode=mode,
        baseline=baseline,
    )
    all_jobs = [read_job(job, settings.group_by, settings.metrics) for job in job_dirs]
    jobs = [job for job in all_jobs if job.metrics]
    incomplete = [job.path for job in all_jobs if not job.metrics]
    if incomplete:
        log.warning(
            "%d job(s) without metrics left out (failed or still running): %s",
            len(incomplete),
            ", ".join(str(path) for path in incomplete),
        )
    if not jobs:
        wanted = ", ".join(settings.metrics) or "val/* or metrics/*"
        raise FileNotFoundError(f"no job under {sweep_dir} logged any of: {wanted}")
    metric_names = list(settings.metrics) or sorted({m for job in jobs for m in job.metrics})
    if settings.decisive_metric is None:
        settings = StudySettings(**{**settings.__dict__, "decisive_metric": metric_names[0]})
    arms = summarize(jobs, metric_names, settings.baseline)

    out = Path(out_dir).expanduser() if out_dir is not None else sweep_dir
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "runs_csv": out / "ablation_runs.csv",
        "summary_csv": out / "ablation_summary.csv",
        "markdown": out / "ablation_summary.md",
        "plot": out / "ablation_plot.png",
    }
    _write_runs_csv(jobs, metric_names, files["runs_csv"], sweep_dir)
    _write_summary_csv(arms, metric_names, files["summary_csv"])
    write_markdown(arms, settings, metric_names, files["markdown"])
    title = f"{sweep_dir.name}: mean ± std over seeds"
    write_plot(arms, metric_names, files["plot"], title=title)
    samples = write_sample_grids(jobs, arms, out / "ablation_samples.png")
    if samples is not None:
        files["samples"] = samples
    return AggregateResult(jobs, incomplete, arms, settings, files)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m animegan.experiments.ablation aggregate SWEEP_DIR [options]``."""
    parser = argparse.ArgumentParser(prog="python -m animegan.experiments.ablation")
    commands = parser.add_subparsers(dest="command", required=True)
    agg = commands.add_parser("aggregate", help="tabulate and plot every job of a sweep")
    agg.add_argument("sweep_dir", type=Path, help="sweep folder (or a parent of several)")
    agg.add_argument("--out", type=Path, default=None, help="output folder (default: sweep_dir)")
    agg.add_argument(
        "--group-by", default=None, help="config key naming the arm (comma-separated: several)"
    )
    agg.add_argument("--metrics", default=None, help="comma-separated metric columns")
    agg.add_argument("--decisive", default=None, help="the metric that decides")
    agg.add_argument("--mode", choices=["min", "max"], default=None, help="better direction")
    agg.add_argument("--baseline", default=None, help="arm to compare against")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        result = aggregate(
            args.sweep_dir,
            args.out,
            group_by=tuple(k for k in args.group_by.split(",") if k) if args.group_by else None,
            metrics=[m for m in args.metrics.split(",") if m] if args.metrics else None,
            decisive_metric=args.decisive,
            mode=args.mode,
            baseline=args.baseline,
        )
    except (FileNotFoundError, ValueError) as error:  # StoredConfigError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.files["markdown"].read_text())
    for kind, path in result.files.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
