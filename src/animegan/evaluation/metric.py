"""The metric interface the :class:`~animegan.evaluation.Evaluator` drives.

A metric is an object with ``reset()``, ``update(photo, stylized, index)``, ``sync(device)`` and
``compute()`` (torchmetrics' ``Metric``, stylegan3's ``metrics/`` registry): the evaluator
stylizes each batch and updates every metric, then gathers them across ranks and computes. Adding a
metric is one module with one :class:`Metric` subclass plus its config entry
(``Evaluator(extra_metrics=[...])``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["Metric", "MetricValues"]


@dataclass
class MetricValues:
    """What one metric computed.

    Attributes:
        metrics: name → value, in report order (e.g. ``fid``, ``kid_mean``, ``kid_std``).
        per_image: column name → one value per photo, in photo order (e.g. ``lpips_content``).
        info: protocol details for the result's ``info`` (counts, subset sizes, ...).
    """

    metrics: dict[str, float]
    per_image: dict[str, list[float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class Metric(ABC):
    """One evaluation metric over (photo, stylized photo) pairs.

    Images are float [B, 3, S, S] RGB in [-1, 1] on the evaluation device; ``stylized`` holds
    8-bit values (what a saved image holds). ``update`` sees only this rank's shard; ``sync``
    (collective: every rank calls it, in the same order) gathers the state of all ranks, after
    which ``compute`` gives the same values on every rank.
    """

    @abstractmethod
    def reset(self) -> None:
        """Forget all accumulated state (called before every evaluation)."""

    @abstractmethod
    def update(self, photo: Tensor, stylized: Tensor, index: Tensor) -> None:
        """Accumulate one batch.

        Args:
            photo: [B, 3, S, S] photos in [-1, 1].
            stylized: [B, 3, S, S] their stylizations in [-1, 1], quantised to 8 bit.
            index: [B] global photo indices (order of the evaluated photo list).
        """

    @abstractmethod
    def sync(self, device: torch.device) -> None:
        """Gather every rank's state, ordered by photo index (collective).

        Args:
            device: the evaluation device the collectives run on.
        """

    @abstractmethod
    def compute(self) -> MetricValues:
        """The metric's values from the (synced) state."""

    def to(self, device: torch.device | str) -> Metric:
        """Move the metric's networks to ``device`` (default: none to move); returns ``self``."""
        return self
