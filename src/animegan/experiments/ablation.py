"""Aggregate the jobs of a Hydra sweep into a comparison: per-arm mean +- std over seeds.

The jobs are read by :mod:`animegan.experiments.jobs` (arm, seed, last value of each metric
column; job folders are untrusted data), grouped and judged by :mod:`animegan.experiments.arms`
and drawn by :mod:`animegan.experiments.figures`; this module writes the tables. Nothing here
knows which metrics exist: validation loss terms (``val/content``) today, FID/KID/LPIPS
(``metrics/fid``) once they are logged, with no code change.

    python -m animegan.experiments.ablation aggregate multirun/augmentation_ablation/<time>

(argument parsing in :mod:`animegan.cli.ablation`) writes ``ablation_runs.csv`` (one row per
job), ``ablation_summary.csv``, ``ablation_summary.md``, ``ablation_plot.png`` and
``ablation_samples.png`` (every job's final sample grid, arms x seeds) into the sweep folder (or
``--out``). Study settings (metrics, decisive metric, baseline) are read from the ``study``
section of the jobs' configs; flags override them.

The table's verdict column compares each arm with the baseline on the decisive metric and says
``better`` or ``worse`` only where the spread over seeds allows it (see :func:`verdict`);
everywhere else it says why there is no verdict.
"""

from __future__ import annotations

import csv
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from animegan.evaluation.tables import best_index, format_value, markdown_table
from animegan.experiments.arms import ArmSummary, summarize, verdict
from animegan.experiments.figures import write_plot, write_sample_grids
from animegan.experiments.jobs import (
    JobResult,
    Mode,
    StudySettings,
    arm_label,
    find_jobs,
    last_metric_values,
    read_job,
    study_settings,
)

__all__ = [
    "AggregateResult",
    "ArmSummary",
    "JobResult",
    "StudySettings",
    "aggregate",
    "find_jobs",
    "last_metric_values",
    "read_job",
    "study_settings",
    "summarize",
    "verdict",
    "write_markdown",
    "write_plot",
    "write_sample_grids",
]

log = logging.getLogger(__name__)


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


def _format(mean: float, std: float) -> str:
    """``mean ± std`` (4 and 2 significant digits), the mean alone without a spread."""
    text = format_value(mean)
    return text if math.isnan(mean) or math.isnan(std) else f"{text} ± {std:.2g}"


def _best_arm(arms: Sequence[ArmSummary], metric: str, mode: Mode) -> str | None:
    index = best_index([arm.mean(metric) for arm in arms], lower_is_better=mode == "min")
    return None if index is None else arms[index].arm


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
    rows = []
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
        rows.append(cells)
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
    text = markdown_table(header, rows, padded_rule=True) + "\n" + "\n".join(notes) + "\n"
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
        group_by: config key(s) whose values name the arms; overrides ``study.group_by`` of
            the jobs' configs (see :class:`StudySettings`), like the four below.
        metrics: metric columns to tabulate.
        decisive_metric: the metric whose best arm is marked.
        mode: ``"min"`` or ``"max"``: which direction of ``decisive_metric`` is better.
        baseline: the arm every other is compared with.

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


if __name__ == "__main__":  # ``python -m animegan.experiments.ablation``, the documented command
    from animegan.cli.ablation import main

    sys.exit(main())
