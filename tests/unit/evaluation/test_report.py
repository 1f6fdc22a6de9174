"""Evaluation reports: metrics.json, per-image CSV, grid, figures, Markdown/HTML."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import torch
from PIL import Image

from animegan.evaluation.evaluator import EvaluationResult
from animegan.evaluation.report import plot_training_curves, write_report


def make_result() -> EvaluationResult:
    photos = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    fakes = torch.full((2, 3, 8, 8), 255, dtype=torch.uint8)
    return EvaluationResult(
        metrics={"fid": 12.5, "lpips_content": 0.25, "identity": 0.75},
        per_image=[
            {"index": 0, "photo": "a.png", "lpips_content": 0.2, "identity": 0.75},
            {"index": 1, "photo": "b.png", "lpips_content": 0.3, "identity": math.nan},
        ],
        photos=photos,
        fakes=fakes,
        info={"image_size": 8, "num_photos": 2},
    )


def test_report_writes_every_artefact(tmp_path: Path) -> None:
    files = write_report(make_result(), tmp_path / "out", title="run A", extra={"checkpoint": "x"})
    payload = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert payload["metrics"] == {"fid": 12.5, "lpips_content": 0.25, "identity": 0.75}
    assert payload["checkpoint"] == "x" and payload["info"]["image_size"] == 8
    assert payload["per_image"][1]["identity"] is None  # NaN (no face) is null in JSON

    with files["per_image_csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["photo"] for row in rows] == ["a.png", "b.png"]

    grid = Image.open(files["grid"])  # 2 rows x 2 columns of 8 px tiles, 2 px padding
    assert grid.size == (2 * 8 + 3 * 2, 2 * 8 + 3 * 2)
    pixels = grid.load()  # (x, y)
    assert pixels[2, 2] == (0, 0, 0) and pixels[12, 2] == (255, 255, 255)

    markdown = files["report_md"].read_text()
    assert "# run A" in markdown and "| fid | 12.5 | lower |" in markdown
    assert "![grid](grid.png)" in markdown and "![per_image_figure](per_image.png)" in markdown
    html = files["report_html"].read_text()
    assert '<img src="grid.png">' in html and "<td>identity</td>" in html
    assert files["per_image_figure"].is_file()


def test_training_curves_from_a_metrics_csv(tmp_path: Path) -> None:
    metrics_csv = tmp_path / "metrics.csv"
    metrics_csv.write_text(
        "epoch,step,loss/g_total_epoch,loss/g_total_step,metrics/fid\n"
        "0,1,,5.0,\n0,1,4.0,,30.0\n1,3,3.0,,20.0\n"
    )
    path = plot_training_curves(metrics_csv, tmp_path / "curves.png")
    assert path is not None and Image.open(path).size[0] > 300
    empty = tmp_path / "empty.csv"
    empty.write_text("epoch,step\n0,1\n")
    assert plot_training_curves(empty, tmp_path / "none.png") is None
    files = write_report(make_result(), tmp_path / "out", training_metrics_csv=metrics_csv)
    assert "training_curves" in files
