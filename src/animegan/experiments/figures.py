"""Figures of a sweep: per-metric panels of arm means over seeds, and the jobs' sample grids.

Drawn with matplotlib's object API only (``Figure``): no pyplot state, no backend switch for the
whole process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from animegan.experiments.arms import ArmSummary
from animegan.experiments.jobs import JobResult

__all__ = ["write_plot", "write_sample_grids"]


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
