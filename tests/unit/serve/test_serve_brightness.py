"""The web app's brightness-matching option: stylize_upload(match_brightness=...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from animegan.inference.postprocess import mean_luma
from animegan.models import GeneratorLite, export_state_dict

pytest.importorskip("onnxruntime")


def test_match_brightness_gives_the_photo_mean_luma(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from animegan.serve import ServeConfig, WeightsCatalog, stylize_upload

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached published weights
    torch.manual_seed(0)
    export_state_dict(GeneratorLite(), tmp_path / "weights" / "tiny.pt")
    yy, xx = np.mgrid[0:40, 0:56]
    pixels = np.stack([xx * 4, yy * 5, np.full_like(xx, 200)], -1).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    catalog = WeightsCatalog(ServeConfig(weights_dir=tmp_path / "weights", max_side=0, threads=1))
    assert list(catalog.choices) == ["tiny.pt"]

    results = {}
    for matched in (False, True):
        _, output, is_video = stylize_upload(
            tmp_path / "photo.png", catalog, weights="tiny.pt", match_brightness=matched,
            out_dir=tmp_path / f"out-{matched}",
        )  # fmt: skip
        assert not is_video
        results[matched] = np.asarray(Image.open(output).convert("RGB"))
        assert results[matched].shape == pixels.shape
    target = mean_luma(pixels)
    assert abs(mean_luma(results[False]) - target) > 5  # a random generator shifts it
    assert abs(mean_luma(results[True]) - target) < 1.0
