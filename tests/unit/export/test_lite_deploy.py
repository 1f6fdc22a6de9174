"""The lite generator through the deployment path: tiling geometry, ONNX parity, INT8."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from animegan.export import check_parity, export_onnx, measure_quality, quantize_int8
from animegan.export.quantize import conv_nodes_of_layers, edge_conv_nodes
from animegan.inference import OnnxBackend, Stylizer, TorchBackend, tile_starts
from animegan.models import Generator, GeneratorLite

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module", autouse=True)
def _quiet_one_thread(one_torch_thread: None) -> None:
    """One torch thread (tiny tensors), and onnxruntime's info lines from quantize_static's
    internal sessions kept out of the output (the exported model itself loads without warnings:
    test_onnx_optional_inputs.py)."""
    ort.set_default_logger_severity(3)


@pytest.fixture(scope="module")
def lite() -> GeneratorLite:
    torch.manual_seed(0)
    return GeneratorLite().eval()


@pytest.fixture(scope="module")
def onnx_path(lite: GeneratorLite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(lite, tmp_path_factory.mktemp("onnx") / "lite.onnx")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    import skimage.data

    return cv2.resize(skimage.data.astronaut(), (124, 124), interpolation=cv2.INTER_AREA)


def test_tiles_align_to_the_lite_encoder_stride(lite: GeneratorLite, astronaut) -> None:
    """Tile origins on multiples of 8 sample the whole image's H/8 grid; multiples of 4 do not.

    The lite generator's TF1 2x resizes map output d to input d / 2, so a tile that starts on
    the grid sees the same values as the whole image away from its borders. Measured (random
    weights with the official init, this photo, 64-px tiles, overlap 24 -> starts 0, 24, 56 vs
    0, 28, 60): mean difference to the untiled output 1.91 uint8 levels aligned to 8, 5.22
    aligned to 4 (PyTorch-init weights: 1.11 and 3.20).
    """
    assert tile_starts(124, 64, 24, align=8) == [0, 24, 56]
    backend = TorchBackend(lite)
    assert (backend.min_side, backend.tile_align) == (16, 8)
    untiled = Stylizer(backend, tile=128)(astronaut).astype(np.float64)
    aligned = Stylizer(backend, tile=64, overlap=24, stats_pixels=128 * 128)(astronaut)
    aligned_diff = np.abs(untiled - aligned).mean()
    backend.tile_align = 4  # what the full generator's grid would give
    off_grid = Stylizer(backend, tile=64, overlap=24, stats_pixels=128 * 128)(astronaut)
    assert aligned_diff < 2.5
    assert np.abs(untiled - off_grid).mean() > 2 * aligned_diff


def test_small_photos_are_padded_to_the_lite_minimum(lite: GeneratorLite) -> None:
    backend = TorchBackend(lite)
    photo = np.random.default_rng(0).integers(0, 256, (5, 13, 3), dtype=np.uint8)
    assert Stylizer(backend, tile=16, overlap=4)(photo).shape == (5, 13, 3)
    with pytest.raises(ValueError, match="at least 16 pixels"):
        Stylizer(backend, tile=8, overlap=2)


def test_onnx_parity_at_odd_sizes_and_geometry_metadata(
    lite: GeneratorLite, onnx_path: Path
) -> None:
    report = check_parity(lite, onnx_path, sizes=((16, 16), (65, 77), (97, 53)), threads=1)
    assert report.passed, report.format()
    backend = OnnxBackend(onnx_path, intra_op_threads=1)
    assert backend.supports_norm_stats and backend.num_norms == 21
    assert (backend.min_side, backend.tile_align) == (16, 8)
    metadata = backend.session.get_modelmeta().custom_metadata_map
    assert metadata["animegan.architecture"] == "GeneratorLite"


def test_onnx_and_torch_stylize_the_same_tiled_image(lite: GeneratorLite, onnx_path: Path) -> None:
    photo = np.random.default_rng(1).integers(0, 256, (40, 70, 3), dtype=np.uint8)
    torch_out = Stylizer(TorchBackend(lite), tile=32, overlap=8)(photo).astype(int)
    onnx_out = Stylizer(OnnxBackend(onnx_path, intra_op_threads=1), tile=32, overlap=8)(photo)
    assert np.abs(torch_out - onnx_out.astype(int)).max() <= 1


def test_default_fp32_layers_are_the_first_and_last_conv(onnx_path: Path, tmp_path: Path) -> None:
    assert edge_conv_nodes(onnx_path) == conv_nodes_of_layers(onnx_path, ["stem", "out_layer"])
    full = export_onnx(Generator().eval(), tmp_path / "full.onnx")
    assert edge_conv_nodes(full) == conv_nodes_of_layers(full, ["block_a.0", "out_layer"])


def test_int8_lite_runs_and_keeps_edge_convs_fp32(
    lite: GeneratorLite, onnx_path: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(2)
    photos = []
    for i in range(4):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
        photos.append(path)
    int8_path = quantize_int8(onnx_path, tmp_path / "lite.int8.onnx", photos[:3], calibration_size=32)
    import onnx

    graph = onnx.load(str(int8_path)).graph
    producers = {o: n.op_type for n in graph.node for o in n.output}
    convs = {n.name: n for n in graph.node if n.op_type == "Conv"}
    stem = convs["/generator/stem/stem.1/Conv"]
    assert producers.get(stem.input[0]) != "DequantizeLinear"  # fp32 input: not quantized
    quantized = [n for n in convs.values() if producers.get(n.input[0]) == "DequantizeLinear"]
    assert len(quantized) >= 20
    backend = OnnxBackend(int8_path, intra_op_threads=1)
    assert (backend.min_side, backend.tile_align) == (16, 8)  # metadata survives quantization
    photo = rng.integers(0, 256, (20, 45, 3), dtype=np.uint8)
    assert Stylizer(backend, tile=32, overlap=8)(photo).shape == photo.shape
    report = measure_quality(TorchBackend(lite), backend, photos[3:], size=32)
    assert math.isfinite(report.psnr_mean_db) and 20.0 < report.psnr_mean_db < 80.0
