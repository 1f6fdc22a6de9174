"""Evaluation artefacts: metrics.json, per-image CSV, figures, the photo | stylized grid, reports.

Figures are drawn with matplotlib's object API (``Figure`` + Agg canvas), so no global backend or
pyplot state is touched.
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from animegan.evaluation.evaluator import LOWER_IS_BETTER, EvaluationResult
from animegan.evaluation.metrics_csv import read_metrics_csv
from animegan.evaluation.tables import format_value, html_table, markdown_table
from animegan.utils.images import from_uint8_image, save_comparison_grid

__all__ = [
    "HTML_STYLE",
    "METRIC_DESCRIPTIONS",
    "format_value",
    "html_table",
    "json_value",
    "markdown_table",
    "new_figure",
    "plot_training_curves",
    "result_to_dict",
    "write_grid",
    "write_metrics_json",
    "write_report",
]

METRIC_DESCRIPTIONS: dict[str, str] = {
    "fid": "FID, stylized photos vs reference anime (lower = closer to the style)",
    "kid_mean": "KID mean over subsets (lower = closer to the style)",
    "kid_std": "KID standard deviation over subsets",
    "lpips_content": "LPIPS photo vs its stylization (lower = more content kept)",
    "lpips_diversity": "mean pairwise LPIPS among stylized images (higher = more varied)",
    "identity": "face embedding cosine, photo vs stylization (higher = identity kept)",
}


def json_value(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None``."""
    # JSON has no NaN; null says "not computed / no face" unambiguously.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def result_to_dict(result: EvaluationResult, extra: Mapping[str, Any] | None = None) -> dict:
    """JSON-ready form of ``result``: ``metrics``, ``info``, ``per_image`` (+ ``extra`` keys).

    Args:
        result: an evaluation.
        extra: additional top-level entries (checkpoint path, epoch, ...).

    Returns:
        A dict of plain values; NaN becomes ``None``. ``skipped`` lists every input left out
        (``role``, ``path``, ``reason``); the counts are in ``info`` (``photos_found``, ...).
    """
    return {
        **dict(extra or {}),
        "metrics": {k: json_value(v) for k, v in result.metrics.items()},
        "info": {k: json_value(v) for k, v in result.info.items()},
        "skipped": [dict(row) for row in result.skipped],
        "per_image": [{k: json_value(v) for k, v in row.items()} for row in result.per_image],
    }


def write_metrics_json(
    result: EvaluationResult, path: str | Path, extra: Mapping[str, Any] | None = None
) -> Path:
    """Write :func:`result_to_dict` as indented JSON to ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result_to_dict(result, extra), indent=2) + "\n")
    return path


def write_grid(result: EvaluationResult, path: str | Path) -> Path:
    """Save the kept photos and their stylizations as a ``photo | stylized`` grid PNG."""
    columns = [from_uint8_image(result.photos), from_uint8_image(result.fakes)]
    return save_comparison_grid(columns, path)


def _write_per_image_csv(result: EvaluationResult, path: Path) -> Path:
    columns = list(dict.fromkeys(key for row in result.per_image for key in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(result.per_image)
    return path


def new_figure(width: float, height: float) -> Any:
    """A matplotlib ``Figure`` of ``width`` x ``height`` inches with its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _plot_per_image(result: EvaluationResult, path: Path) -> Path | None:
    names = [name for name in ("lpips_content", "identity") if name in result.metrics]
    if not names:
        return None
    figure = new_figure(5 * len(names), 3.2)
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for axis, name in zip(axes, names, strict=True):
        values = [float(row[name]) for row in result.per_image if math.isfinite(float(row[name]))]
        axis.hist(values, bins=min(20, max(len(values), 1)), color="#4c72b0")
        axis.axvline(
            result.metrics[name], color="#c44e52", label=f"mean {result.metrics[name]:.3f}"
        )
        axis.set_title(name)
        axis.set_xlabel(name)
        axis.set_ylabel("photos")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    return path


def plot_training_curves(metrics_csv: str | Path, path: str | Path) -> Path | None:
    """Plot each ``metrics/*`` and epoch-level ``loss/*`` column of a run's ``metrics.csv``.

    One small panel per column (their scales differ by orders of magnitude), x = epoch.

    Args:
        metrics_csv: the CSVLogger file of a training run.
        path: PNG to write.

    Returns:
        ``path``, or ``None`` when the file has no such columns.
    """
    table = read_metrics_csv(metrics_csv)
    if "epoch" not in table.columns:
        return None
    columns = [c for c in table.columns if c.startswith("metrics/")]
    columns += [c for c in table.columns if c.startswith("loss/") and c.endswith("_epoch")]
    series = {c: table.paired("epoch", c) for c in columns}
    series = {c: s for c, s in series.items() if s[0]}
    if not series:
        return None
    per_row = min(4, len(series))
    rows = -(-len(series) // per_row)
    figure = new_figure(3.2 * per_row, 2.4 * rows)
    axes = figure.subplots(rows, per_row, squeeze=False).flatten()
    for axis, (column, (epochs, values)) in zip(axes, series.items(), strict=False):
        axis.plot(epochs, values, marker="o", markersize=3)
        axis.set_title(column, fontsize="small")
        axis.set_xlabel("epoch", fontsize="small")
        axis.tick_params(labelsize="x-small")
    for axis in axes[len(series) :]:
        axis.set_visible(False)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    return path


HTML_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
    "img{max-width:100%}"
)


# Rows of the skipped-inputs table in report.md/html; metrics.json always lists every one.
MAX_SKIPPED_ROWS = 100


def _skipped_table(result: EvaluationResult) -> tuple[list[str], list[list[str]], str]:
    """Header, rows and a one-line summary of the inputs the evaluation left out."""
    skipped = result.skipped
    counts = ", ".join(
        f"{sum(row['role'] == role for row in skipped)} {role}(s)"
        for role in dict.fromkeys(row["role"] for row in skipped)
    )
    note = f"{len(skipped)} input(s) were left out and not scored ({counts}); not modified."
    if len(skipped) > MAX_SKIPPED_ROWS:
        note += f" The first {MAX_SKIPPED_ROWS} are shown; metrics.json lists all."
    rows = [[row["role"], row["path"], row["reason"]] for row in skipped[:MAX_SKIPPED_ROWS]]
    return ["role", "file", "reason"], rows, note


def write_report(
    result: EvaluationResult,
    output_dir: str | Path,
    *,
    title: str = "Evaluation",
    extra: Mapping[str, Any] | None = None,
    training_metrics_csv: str | Path | None = None,
) -> dict[str, Path]:
    """Write every artefact of one evaluation into ``output_dir``.

    Files: ``metrics.json``, ``per_image.csv``, ``grid.png`` (photo | stylized),
    ``per_image.png`` (score histograms), ``training_curves.png`` (when ``training_metrics_csv``
    is given and has metric or loss columns), ``report.md`` and ``report.html`` showing them.
    The reports list the skipped inputs with their reasons in a section of their own, and
    their counts (found, scored, skipped, not sampled) among the protocol details.

    Args:
        result: the evaluation.
        output_dir: folder (created).
        title: report heading (e.g. the checkpoint name).
        extra: top-level entries for metrics.json and the report header (checkpoint, inputs).
        training_metrics_csv: ``metrics.csv`` of the run the checkpoint comes from.

    Returns:
        Name → path of each file written.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {
        "metrics": write_metrics_json(result, output_dir / "metrics.json", extra),
        "per_image_csv": _write_per_image_csv(result, output_dir / "per_image.csv"),
    }
    if result.photos.shape[0] > 0:
        files["grid"] = write_grid(result, output_dir / "grid.png")
    if (figure := _plot_per_image(result, output_dir / "per_image.png")) is not None:
        files["per_image_figure"] = figure
    if training_metrics_csv is not None and Path(training_metrics_csv).is_file():
        curves = plot_training_curves(training_metrics_csv, output_dir / "training_curves.png")
        if curves is not None:
            files["training_curves"] = curves

    metric_rows = [
        [
            name,
            format_value(value),
            "lower" if name in LOWER_IS_BETTER else "higher",
            METRIC_DESCRIPTIONS.get(name, ""),
        ]
        for name, value in result.metrics.items()
    ]
    header = ["metric", "value", "better", "meaning"]
    details = {**dict(extra or {}), **result.info}
    detail_rows = [[str(key), str(value)] for key, value in details.items()]
    figures = [
        (name, files[name].name)
        for name in ("grid", "per_image_figure", "training_curves")
        if name in files
    ]
    skipped_header, skipped_rows, skipped_note = _skipped_table(result)
    markdown = [f"# {title}", "", markdown_table(header, metric_rows), ""]
    markdown += ["## Protocol and inputs", "", markdown_table(["key", "value"], detail_rows), ""]
    if skipped_rows:
        markdown += ["## Skipped inputs", "", skipped_note, ""]
        markdown += [markdown_table(skipped_header, skipped_rows), ""]
    for name, file_name in figures:
        markdown += [f"## {name.replace('_', ' ')}", "", f"![{name}]({file_name})", ""]
    files["report_md"] = output_dir / "report.md"
    files["report_md"].write_text("\n".join(markdown))

    body = [f"<h1>{html.escape(title)}</h1>", html_table(header, metric_rows)]
    body += ["<h2>Protocol and inputs</h2>", html_table(["key", "value"], detail_rows)]
    if skipped_rows:
        body += ["<h2>Skipped inputs</h2>", f"<p>{html.escape(skipped_note)}</p>"]
        body.append(html_table(skipped_header, skipped_rows))
    for name, file_name in figures:
        body += [f"<h2>{html.escape(name.replace('_', ' '))}</h2>", f'<img src="{file_name}">']
    files["report_html"] = output_dir / "report.html"
    files["report_html"].write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{HTML_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
    return files
