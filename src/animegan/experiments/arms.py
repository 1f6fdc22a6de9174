"""Per-arm statistics over seeds, and the verdict rule that compares an arm with the baseline."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from animegan.experiments.jobs import JobResult, Mode

__all__ = ["ArmSummary", "summarize", "verdict"]


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
