"""Comparisons of several evaluations: one table with the best marked, one grid."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from animegan.evaluation.compare import best_index, best_per_metric, write_comparison
from animegan.evaluation.evaluator import EvaluationResult


def result(fid: float, diversity: float, shade: int, photos: tuple[str, ...] = ("a", "b")):
    return EvaluationResult(
        metrics={"fid": fid, "lpips_diversity": diversity},
        per_image=[{"index": i, "photo": p} for i, p in enumerate(photos)],
        photos=torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
        fakes=torch.full((2, 3, 4, 4), shade, dtype=torch.uint8),
    )


def test_best_respects_the_direction_of_each_metric() -> None:
    results = [result(10.0, 0.2, 0), result(5.0, 0.1, 0), result(math.nan, 0.3, 0)]
    assert best_per_metric(results) == {"fid": 1, "lpips_diversity": 2}


def test_best_index_skips_non_finite_values_and_keeps_the_first_of_equal_ones() -> None:
    assert best_index([3.0, math.nan, 1.0, 1.0, -math.inf], lower_is_better=True) == 2
    assert best_index([3.0, math.inf, 5.0, 5.0], lower_is_better=False) == 2
    assert best_index([math.nan, math.inf], lower_is_better=True) is None
    assert best_index([], lower_is_better=False) is None


def test_comparison_table_and_grid(tmp_path: Path) -> None:
    files = write_comparison(
        ["run-a", "run-b"], [result(10, 0.2, 100), result(5, 0.1, 200)], tmp_path
    )
    markdown = files["markdown"].read_text()
    assert "| run-a | 10 | 0.2 * |" in markdown and "| run-b | 5 * | 0.1 |" in markdown
    payload = json.loads(files["json"].read_text())
    assert payload["best"] == {"fid": "run-b", "lpips_diversity": "run-a"}
    grid = Image.open(files["grid"])  # photo | run-a | run-b, 2 rows of 4 px tiles
    assert grid.size == (3 * 4 + 4 * 2, 2 * 4 + 3 * 2)
    pixels = grid.load()
    assert pixels[2, 2] == (0, 0, 0) and pixels[8, 2] == (100,) * 3 and pixels[14, 2] == (200,) * 3
    assert files["csv"].read_text().splitlines()[0] == "run,fid,lpips_diversity"
    assert files["figure"].is_file() and files["html"].is_file()


def test_comparison_refuses_different_photos(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="different photos"):
        write_comparison(["a", "b"], [result(1, 1, 0), result(1, 1, 0, ("a", "c"))], tmp_path)
