"""Several runs or checkpoints side by side: one table, one grid, one bar chart."""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path

from animegan.evaluation.evaluator import LOWER_IS_BETTER, EvaluationResult
from animegan.evaluation.report import HTML_STYLE, json_value, new_figure
from animegan.evaluation.tables import best_index, format_value, html_table, markdown_table
from animegan.utils.images import from_uint8_image, save_comparison_grid

__all__ = ["best_index", "best_per_metric", "write_comparison"]


def best_per_metric(results: Sequence[EvaluationResult]) -> dict[str, int]:
    """Index of the best result for every metric (lower or higher is better by metric).

    Args:
        results: evaluations of the same photos.

    Returns:
        metric name → index into ``results``; metrics absent or NaN everywhere are left out.
    """
    names = list(dict.fromkeys(name for result in results for name in result.metrics))
    best: dict[str, int] = {}
    for name in names:
        values = [result.metrics.get(name, math.nan) for result in results]
        index = best_index(values, lower_is_better=name in LOWER_IS_BETTER)
        if index is not None:
            best[name] = index
    return best


def write_comparison(
    labels: Sequence[str], results: Sequence[EvaluationResult], output_dir: str | Path
) -> dict[str, Path]:
    """Write a comparison of evaluations made on the same photos.

    Files: ``comparison.md`` / ``.html`` / ``.csv`` / ``.json`` (one row per run, best value per
    metric marked with ``*``), ``comparison_grid.png`` (photo | run 1 | run 2 | ...),
    ``comparison_metrics.png`` (one bar chart per metric).

    Args:
        labels: one name per result (run folder or checkpoint name).
        results: evaluations of the same photos, in the order of ``labels``.
        output_dir: folder (created).

    Returns:
        Name → path of each file written.
    """
    if len(labels) != len(results) or not results:
        raise ValueError(f"need one label per result, got {len(labels)} and {len(results)}")
    photo_lists = [[row["photo"] for row in result.per_image] for result in results]
    if any(photos != photo_lists[0] for photos in photo_lists):
        raise ValueError("results compare different photos; evaluate all on the same inputs")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(name for result in results for name in result.metrics))
    best = best_per_metric(results)

    def cell(index: int, name: str) -> str:
        text = format_value(results[index].metrics.get(name, math.nan))
        return f"{text} *" if best.get(name) == index else text

    header = ["run", *[f"{name} ({'↓' if name in LOWER_IS_BETTER else '↑'})" for name in names]]
    rows = [[label, *[cell(i, name) for name in names]] for i, label in enumerate(labels)]
    files: dict[str, Path] = {}

    files["csv"] = output_dir / "comparison.csv"
    with files["csv"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", *names])
        for label, result in zip(labels, results, strict=True):
            writer.writerow([label, *[result.metrics.get(name, "") for name in names]])
    files["json"] = output_dir / "comparison.json"
    files["json"].write_text(
        json.dumps(
            {
                "runs": [
                    {
                        "label": label,
                        "metrics": {k: json_value(v) for k, v in result.metrics.items()},
                    }
                    for label, result in zip(labels, results, strict=True)
                ],
                "best": {name: labels[index] for name, index in best.items()},
            },
            indent=2,
        )
        + "\n"
    )

    kept = min(result.fakes.shape[0] for result in results)
    if kept > 0:
        columns = [results[0].photos[:kept], *[result.fakes[:kept] for result in results]]
        files["grid"] = save_comparison_grid(
            [from_uint8_image(column) for column in columns], output_dir / "comparison_grid.png"
        )
    if names:
        figure = new_figure(3.2 * len(names), 3.2)
        axes = figure.subplots(1, len(names), squeeze=False)[0]
        for axis, name in zip(axes, names, strict=True):
            values = [result.metrics.get(name, math.nan) for result in results]
            axis.bar(range(len(labels)), values, color="#4c72b0")
            axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize="small")
            axis.set_title(f"{name} ({'lower' if name in LOWER_IS_BETTER else 'higher'} better)")
        figure.tight_layout()
        files["figure"] = output_dir / "comparison_metrics.png"
        figure.savefig(files["figure"])

    legend = "Columns of the grid: photo | " + " | ".join(labels) + ". `*` marks the best value."
    markdown = ["# Comparison", "", markdown_table(header, rows), "", legend, ""]
    html_body = ["<h1>Comparison</h1>", html_table(header, rows), f"<p>{html.escape(legend)}</p>"]
    for key in ("grid", "figure"):
        if key in files:
            markdown += [f"![{key}]({files[key].name})", ""]
            html_body.append(f'<img src="{files[key].name}">')
    files["markdown"] = output_dir / "comparison.md"
    files["markdown"].write_text("\n".join(markdown))
    files["html"] = output_dir / "comparison.html"
    files["html"].write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Comparison</title>"
        f"<style>{HTML_STYLE}</style></head><body>{''.join(html_body)}</body></html>\n"
    )
    return files
