"""Plain tables of results: cell formatting, Markdown and HTML tables, the best of a column.

Shared by the evaluation report, the run comparison and the sweep aggregator. Pure Python (no
torch, no matplotlib), so the aggregator starts fast.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = ["best_index", "format_value", "html_table", "markdown_table"]


def format_value(value: float) -> str:
    """4 significant digits, ``n/a`` for NaN/inf."""
    return "n/a" if not math.isfinite(value) else f"{value:.4g}"


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, padded_rule: bool = False
) -> str:
    """A GitHub Markdown table of string cells.

    Args:
        header: column names.
        rows: one list of cells per row.
        padded_rule: write the rule under the header as ``| --- |`` (spaced like the cells)
            instead of ``|---|``; both render the same.

    Returns:
        The table's lines joined by newlines (no trailing newline).
    """
    rule = " --- |" if padded_rule else "---|"
    lines = ["| " + " | ".join(header) + " |", "|" + rule * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table of escaped string cells."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def best_index(values: Sequence[float], *, lower_is_better: bool) -> int | None:
    """Index of the best finite value: the lowest or the highest (the first of equal ones).

    Args:
        values: scores of one metric, one per run or arm (NaN: not measured).
        lower_is_better: ``True`` for FID-like metrics, ``False`` for identity-like ones.

    Returns:
        The index into ``values``, or ``None`` when no value is finite.
    """
    scored = [(value, index) for index, value in enumerate(values) if math.isfinite(value)]
    if not scored:
        return None
    sign = 1.0 if lower_is_better else -1.0
    return min(scored, key=lambda item: sign * item[0])[1]
