"""Reading a training run's ``metrics.csv`` (the file the CSV logger of ``training/loggers.py`` writes).

The format: a header with the sorted union of every logged name (``epoch``, ``step``,
``loss/<term>_step``, ``loss/<term>_epoch``, ``val/<term>``, ``metrics/<name>``, ...), then one
row per logging call with an empty cell for every name that call did not log. So a column is a
sparse series: its values are its non-empty cells, in row order. The sweep aggregator (the last
value of each metric), the evaluation report (curves over epochs) and the numerics check
(per-batch loss curves) all read it through :func:`read_metrics_csv`.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MetricsTable", "read_metrics_csv"]


@dataclass(frozen=True)
class MetricsTable:
    """The numeric cells of a ``metrics.csv``, row by row.

    Attributes:
        columns: the header's names, in file order.
        rows: one mapping per logging call: column -> value of each non-empty cell that reads
            as a number (``nan`` and ``inf`` included, as logged); other cells are absent.
    """

    columns: tuple[str, ...]
    rows: tuple[dict[str, float], ...]

    def values(self, column: str) -> list[float]:
        """Every logged value of ``column`` in row order, non-finite ones included."""
        return [row[column] for row in self.rows if column in row]

    def last_finite(self, columns: Iterable[str]) -> dict[str, float]:
        """The last finite value of each of ``columns`` (columns with none are left out)."""
        wanted = list(columns)
        last: dict[str, float] = {}
        for row in self.rows:
            for name in wanted:
                value = row.get(name)
                if value is not None and math.isfinite(value):
                    last[name] = value
        return last

    def paired(self, x: str, y: str) -> tuple[list[float], list[float]]:
        """Values of ``x`` and ``y`` from the rows that logged both, neither NaN.

        E.g. a curve of ``metrics/fid`` over ``epoch``.
        """
        pairs = [
            (row[x], row[y])
            for row in self.rows
            if x in row and y in row and not (math.isnan(row[x]) or math.isnan(row[y]))
        ]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def _number(cell: str | None) -> float | None:
    if not cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def read_metrics_csv(path: str | os.PathLike[str]) -> MetricsTable:
    """Read a CSV logger's ``metrics.csv``.

    Args:
        path: the file.

    Returns:
        :class:`MetricsTable`: the header and, per row, the cells that hold a number. Empty
        cells, cells that are not numbers and cells beyond the header are left out.

    Raises:
        OSError: the file cannot be read.
    """
    with Path(path).open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = []
        for row in reader:
            parsed = {}
            for name, cell in row.items():
                value = _number(cell) if isinstance(cell, str) else None
                if name is not None and value is not None:
                    parsed[name] = value
            rows.append(parsed)
        columns = tuple(reader.fieldnames or ())
    return MetricsTable(columns=columns, rows=tuple(rows))
