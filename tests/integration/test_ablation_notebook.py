"""notebooks/augmentation_ablation.ipynb runs headless on a sweep folder and is committed stripped."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from nbclient import NotebookClient
from PIL import Image

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "augmentation_ablation.ipynb"
STUDY = {
    "metrics": ["val/content", "val/color"],
    "decisive_metric": "val/content",
    "baseline": "none",
}


def write_job(folder: Path, recipe: str, seed: int, content: float) -> None:
    """A finished job folder: resolved config, metrics.csv and a sample grid."""
    folder.mkdir(parents=True)
    config = {"seed": seed, "augmentation": {"name": recipe}, "study": STUDY}
    (folder / "config_resolved.yaml").write_text(yaml.safe_dump(config))
    with (folder / "metrics.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["epoch", "val/content", "val/color"], [0, content, 0.5]])
    (folder / "samples").mkdir()
    Image.fromarray(np.full((8, 16, 3), 60 * seed, np.uint8)).save(folder / "samples" / "last.png")


def test_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "strip the outputs"


def test_notebook_executes_on_a_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = tmp_path / "sweep"
    for recipe, values in {"none": [3.0, 5.0], "full": [1.0, 2.0]}.items():
        for seed, value in enumerate(values):
            write_job(sweep / f"{recipe}_seed{seed}", recipe, seed, value)
    monkeypatch.setenv("ABLATION_SWEEP_DIR", str(sweep))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError on any failing cell

    texts = []
    images = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            texts.append(output.get("text", "") + data.get("text/markdown", ""))
            texts.append(data.get("text/plain", ""))
            images += "image/png" in data
    joined = "\n".join(texts)
    assert "| `full` | 2 | **1.5 ± 0.71**" in joined  # the comparison table
    assert "decisive metric: val/content" in joined
    assert images >= 2  # the error-bar plot and the sample grids
    assert (sweep / "ablation_plot.png").is_file()
