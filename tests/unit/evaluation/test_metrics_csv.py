"""The one metrics.csv reader: sparse rows, non-finite values, odd cells."""

from __future__ import annotations

import math
from pathlib import Path

from animegan.evaluation.metrics_csv import read_metrics_csv

# As the CSV logger writes it: one row per logging call, empty cells for names not logged.
SPARSE = (
    "epoch,step,loss/g_step,loss/g_epoch,val/content\n"
    "0,0,1.5,,\n"
    "0,1,nan,,\n"
    "0,1,,1.25,4.0\n"
    "1,2,inf,,\n"
    "1,3,,,abc\n"
    "1,3,0.5,2.0,3.0,surplus\n"
)


def test_columns_and_sparse_values_keep_row_order_and_non_finite_values(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(SPARSE)
    table = read_metrics_csv(path)
    assert table.columns == ("epoch", "step", "loss/g_step", "loss/g_epoch", "val/content")
    assert len(table.rows) == 6
    values = table.values("loss/g_step")
    assert values[0] == 1.5 and math.isnan(values[1]) and values[2:] == [math.inf, 0.5]
    # "abc" is not a number and the cell beyond the header has no column: both left out.
    assert table.values("val/content") == [4.0, 3.0]
    assert table.rows[4] == {"epoch": 1.0, "step": 3.0}
    assert table.values("absent") == []


def test_last_finite_skips_nan_and_inf(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(SPARSE + "2,4,-inf,nan,\n")
    table = read_metrics_csv(path)
    last = table.last_finite(["loss/g_step", "loss/g_epoch", "val/content", "absent"])
    assert last == {"loss/g_step": 0.5, "loss/g_epoch": 2.0, "val/content": 3.0}


def test_paired_takes_rows_that_logged_both(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(SPARSE + "2,4,,nan,\n")
    epochs, values = read_metrics_csv(path).paired("epoch", "loss/g_epoch")
    assert (epochs, values) == ([0.0, 1.0], [1.25, 2.0])  # the NaN row of epoch 2 is dropped


def test_a_header_only_file_has_columns_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step\n")
    table = read_metrics_csv(path)
    assert table.columns == ("epoch", "step") and table.rows == ()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert read_metrics_csv(empty).columns == ()
