"""A CSV logger that keeps the rows already in the run folder (resume loses no metrics)."""

from __future__ import annotations

import csv

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

__all__ = ["AppendingCSVLogger"]


class _AppendingWriter(ExperimentWriter):
    """Lightning's writer deletes an existing ``metrics.csv`` when it starts; this one appends.

    A new column (a metric first logged after the resume) rewrites the file once with the
    union of the old and new header, so every earlier row keeps its values.
    """

    def _check_log_dir_exists(self) -> None:
        """Keep whatever the folder holds (the parent class deletes ``metrics.csv`` here)."""

    def _existing_header(self) -> list[str] | None:
        if not self._fs.isfile(self.metrics_file_path):
            return None
        with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
            return next(csv.reader(handle), [])

    def save(self) -> None:
        """Append the recorded rows to ``metrics.csv`` (header = sorted union of all columns)."""
        if not self.metrics:
            return
        header = self._existing_header()
        keys = sorted(set(header or ()) | set(self.metrics_keys) | set().union(*self.metrics))
        if header is not None and header != keys:
            with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
                rows = list(csv.DictReader(handle))
            with self._fs.open(self.metrics_file_path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=keys, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        with self._fs.open(self.metrics_file_path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            if header is None:
                writer.writeheader()
            writer.writerows(self.metrics)
        self.metrics_keys = keys
        self.metrics = []


class AppendingCSVLogger(CSVLogger):
    """:class:`lightning.pytorch.loggers.CSVLogger` that appends to an existing ``metrics.csv``.

    With ``name=""`` and ``version=""`` (our run folder layout) Lightning's logger deletes the
    earlier rows when a run is resumed in the same folder; this one keeps them, so the metrics
    of every epoch stay in one file. Arguments are those of ``CSVLogger``.
    """

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        """The writer (created on first use, rank 0 only)."""
        if self._experiment is not None:
            return self._experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
