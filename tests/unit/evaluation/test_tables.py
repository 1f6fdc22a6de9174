"""Plain result tables shared by the report, the comparison and the sweep aggregator."""

from __future__ import annotations

import math

from animegan.evaluation.tables import format_value, html_table, markdown_table


def test_markdown_table_rule_styles() -> None:
    rows = [["x", "1"], ["y", "2"]]
    assert markdown_table(["name", "n"], rows) == "| name | n |\n|---|---|\n| x | 1 |\n| y | 2 |"
    padded = markdown_table(["name", "n"], rows, padded_rule=True)
    assert padded.splitlines()[1] == "| --- | --- |"


def test_cells_are_formatted_and_escaped() -> None:
    assert [format_value(v) for v in (1 / 3, 12345.678, math.nan, math.inf)] == [
        "0.3333",
        "1.235e+04",
        "n/a",
        "n/a",
    ]
    assert "<td>a&lt;b</td>" in html_table(["h"], [["a<b"]])
