"""Tests of animegan.export: ONNX parity at odd sizes, INT8, weight-format round trips."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from animegan.export import (
    check_parity,
    export_onnx,
    export_pt,
    import_pt,
    measure_quality,
    quantize_int8,
    streamline_qdq,
    verify_pt,
)
from animegan.export.quantize import PhotoCalibrationReader, conv_nodes_of_layers, psnr
from animegan.inference import OnnxBackend, Stylizer, TorchBackend
from animegan.models import Generator, export_state_dict

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module", autouse=True)
def _quiet_one_thread(one_torch_thread: None) -> None:
    """One torch thread (tiny tensors), and onnxruntime's info lines from quantize_static's
    internal sessions kept out of the output (the exported model itself loads without warnings:
    test_onnx_optional_inputs.py)."""
    ort.set_default_logger_severity(3)


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator().eval()


@pytest.fixture(scope="module")
def onnx_path(generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(generator, tmp_path_factory.mktemp("onnx") / "generator.onnx")


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small generated 'photos': smooth gradients plus a few shapes."""
    folder = tmp_path_factory.mktemp("photos")
    yy, xx = np.mgrid[0:48, 0:48] / 47.0
    for i in range(4):
        image = np.stack([xx, yy, (xx + yy) / 2], axis=-1) * (0.4 + 0.2 * i)
        image[10 + i : 20 + i, 5:30] = (0.9, 0.2 * i, 0.1)
        Image.fromarray((image * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


# ------------------------------------------------------------------------------ ONNX


def test_onnx_parity_at_odd_sizes(generator: Generator, onnx_path: Path) -> None:
    report = check_parity(generator, onnx_path, sizes=((16, 16), (17, 23), (33, 9)), batch=2)
    assert [(h, w) for h, w, _ in report.rows] == [(16, 16), (17, 23), (33, 9)]
    assert report.passed and report.max_abs_diff < 1e-4
    assert "PASS" in report.format()


def test_parity_check_detects_a_different_model(onnx_path: Path) -> None:
    torch.manual_seed(1)
    other = Generator().eval()
    report = check_parity(other, onnx_path, sizes=((16, 16),), batch=1)
    assert not report.passed and "FAIL" in report.format()


def test_onnx_model_takes_only_photo_with_dynamic_batch(
    generator: Generator, onnx_path: Path
) -> None:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    inputs = {i.name: i.shape for i in session.get_inputs()}
    assert inputs["photo"][0] == "batch" and inputs["photo"][2:] == ["height", "width"]
    photo = np.random.default_rng(0).uniform(-1, 1, (3, 3, 11, 19)).astype(np.float32)
    (out,) = session.run(["fake_anime"], {"photo": photo})
    with torch.inference_mode():
        expected = generator(torch.from_numpy(photo)).numpy()
    assert out.shape == (3, 3, 11, 19)
    assert np.abs(out - expected).max() < 1e-4


def test_onnx_and_torch_backends_give_the_same_images(
    generator: Generator, onnx_path: Path
) -> None:
    photo = np.random.default_rng(1).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    torch_backend = TorchBackend(generator)
    onnx_backend = OnnxBackend(onnx_path, intra_op_threads=1)
    assert onnx_backend.supports_norm_stats and onnx_backend.num_norms == 24
    for tile in (128, 32):  # whole image, then tiled with shared statistics
        a = Stylizer(torch_backend, tile=tile, overlap=8)(photo).astype(int)
        b = Stylizer(onnx_backend, tile=tile, overlap=8)(photo).astype(int)
        assert np.abs(a - b).max() <= 1


def test_onnx_backend_explains_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="animegan export"):
        OnnxBackend(tmp_path / "nope.onnx")


# ------------------------------------------------------------------------------ INT8


def test_int8_quantization_runs_and_its_quality_is_measured(
    generator: Generator, onnx_path: Path, photo_dir: Path, tmp_path: Path
) -> None:
    photos = sorted(photo_dir.iterdir())
    int8_path = quantize_int8(onnx_path, tmp_path / "g.int8.onnx", photos[:3], calibration_size=32)
    import onnx

    graph = onnx.load(str(int8_path)).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("QuantizeLinear") >= 20 and "DequantizeLinear" in ops
    # fp32 layers kept: the first conv reads the photo directly, not a dequantized tensor.
    first_conv = next(n for n in graph.node if n.name.endswith("block_a.0.1/Conv"))
    producers = {o: n.op_type for n in graph.node for o in n.output}
    assert producers.get(first_conv.input[0]) != "DequantizeLinear"
    int8_backend = OnnxBackend(int8_path, intra_op_threads=1)
    assert int8_backend.supports_norm_stats  # tiles of large images still share statistics
    photo = np.random.default_rng(2).integers(0, 256, (20, 27, 3), dtype=np.uint8)
    assert Stylizer(int8_backend, tile=64, overlap=16)(photo).shape == (20, 27, 3)
    report = measure_quality(TorchBackend(generator), int8_backend, photos[3:], size=32)
    assert report.num_images == 1 and math.isfinite(report.psnr_mean_db)
    assert 20.0 < report.psnr_mean_db < 80.0  # quantized: close, but not identical
    assert report.lpips_mean is None or report.lpips_mean >= 0.0


def test_streamline_keeps_int8_outputs_identical(
    onnx_path: Path, photo_dir: Path, tmp_path: Path
) -> None:
    photos = sorted(photo_dir.iterdir())[:2]
    plain = quantize_int8(
        onnx_path, tmp_path / "plain.onnx", photos, calibration_size=32, streamline=False
    )
    streamlined = tmp_path / "streamlined.onnx"
    streamlined.write_bytes(plain.read_bytes())
    counts = streamline_qdq(streamlined)
    assert counts["pads_moved"] >= 15 and counts["dequantize_shared"] >= 20
    photo = np.random.default_rng(3).uniform(-1, 1, (1, 3, 24, 40)).astype(np.float32)
    run = {
        p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(
            ["fake_anime"], {"photo": photo}
        )[0]
        for p in (plain, streamlined)
    }
    np.testing.assert_array_equal(run[plain], run[streamlined])


def test_fp32_layer_names_must_match(onnx_path: Path) -> None:
    assert len(conv_nodes_of_layers(onnx_path, ["block_a.0", "out_layer"])) == 2
    assert len(conv_nodes_of_layers(onnx_path, ["block_e"])) == 3
    with pytest.raises(ValueError, match="matches no Conv"):
        conv_nodes_of_layers(onnx_path, ["block_z"])


def test_calibration_reader_yields_resized_photos_then_none(photo_dir: Path) -> None:
    (photo_dir / "broken.png").write_bytes(b"no")
    reader = PhotoCalibrationReader(sorted(photo_dir.iterdir()), size=16)
    feeds = []
    while (feed := reader.get_next()) is not None:
        feeds.append(feed["photo"])
    (photo_dir / "broken.png").unlink()
    assert len(feeds) == 4 and feeds[0].shape == (1, 3, 16, 16)
    assert feeds[0].min() >= -1.0 and feeds[0].max() <= 1.0
    reader.rewind()
    assert reader.get_next() is not None


def test_psnr_hand_computed() -> None:
    a = np.zeros((2, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 12  # MSE = 144 / 12 = 12
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 12))
    assert psnr(a, a) == math.inf


# ----------------------------------------------------------------- weight formats


class _PortConvNormLReLU(nn.Sequential):
    """bryandlee/animegan2-pytorch model.py, re-typed from the port (MIT), for the key test."""

    def __init__(self, in_ch, out_ch, kernel_size=3, stride=1, padding=1, groups=1, bias=False):
        super().__init__(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding=0, groups=groups, bias=bias),
            nn.GroupNorm(num_groups=1, num_channels=out_ch, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
        )


class _PortInvertedResBlock(nn.Module):
    def __init__(self, in_ch, out_ch, expansion_ratio=2):
        super().__init__()
        self.use_res_connect = in_ch == out_ch
        bottleneck = int(round(in_ch * expansion_ratio))
        self.layers = nn.Sequential(
            _PortConvNormLReLU(in_ch, bottleneck, kernel_size=1, padding=0),
            _PortConvNormLReLU(bottleneck, bottleneck, groups=bottleneck, bias=True),
            nn.Conv2d(bottleneck, out_ch, kernel_size=1, padding=0, bias=False),
            nn.GroupNorm(num_groups=1, num_channels=out_ch, affine=True),
        )

    def forward(self, input):
        out = self.layers(input)
        return input + out if self.use_res_connect else out


class _PortGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        cnl, irb = _PortConvNormLReLU, _PortInvertedResBlock
        self.block_a = nn.Sequential(
            cnl(3, 32, kernel_size=7, padding=3),
            cnl(32, 64, stride=2, padding=(0, 1, 0, 1)),
            cnl(64, 64),
        )
        self.block_b = nn.Sequential(cnl(64, 128, stride=2, padding=(0, 1, 0, 1)), cnl(128, 128))
        self.block_c = nn.Sequential(
            cnl(128, 128), irb(128, 256, 2), irb(256, 256, 2), irb(256, 256, 2),
            irb(256, 256, 2), cnl(256, 128),
        )  # fmt: skip
        self.block_d = nn.Sequential(cnl(128, 128), cnl(128, 128))
        self.block_e = nn.Sequential(
            cnl(128, 64), cnl(64, 64), cnl(64, 32, kernel_size=7, padding=3)
        )
        self.out_layer = nn.Sequential(nn.Conv2d(32, 3, 1, 1, 0, bias=False), nn.Tanh())

    def forward(self, input):
        out = self.block_a(input)
        half_size = out.size()[-2:]
        out = self.block_c(self.block_b(out))
        out = F.interpolate(out, half_size, mode="bilinear", align_corners=True)
        out = self.block_d(out)
        out = F.interpolate(out, input.size()[-2:], mode="bilinear", align_corners=True)
        return self.out_layer(self.block_e(out))


def _fake_training_checkpoint(generator: Generator, path: Path) -> Path:
    state = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    state["discriminator.conv.weight"] = torch.zeros(1)
    torch.save({"state_dict": state, "global_step": 7}, path)
    return path


def test_export_pt_loads_strictly_in_the_port(generator: Generator, tmp_path: Path) -> None:
    ckpt = _fake_training_checkpoint(generator, tmp_path / "last.ckpt")
    pt = export_pt(ckpt, tmp_path / "generator.pt")
    state = torch.load(pt, weights_only=True)
    assert len(state) == 77 and "block_a.0.1.weight" in state
    port = _PortGenerator().eval()
    port.load_state_dict(state, strict=True)
    photo = torch.rand(1, 3, 21, 30) * 2 - 1
    with torch.inference_mode():
        torch.testing.assert_close(port(photo), generator(photo), atol=1e-6, rtol=0)
    assert verify_pt(pt, generator).passed


def test_import_pt_round_trip_from_the_port(tmp_path: Path) -> None:
    torch.manual_seed(3)
    port = _PortGenerator().eval()
    torch.save(port.state_dict(), tmp_path / "paprika_like.pt")
    imported = import_pt(tmp_path / "paprika_like.pt")
    export_state_dict(imported, tmp_path / "again.pt")
    again = torch.load(tmp_path / "again.pt", weights_only=True)
    for key, value in port.state_dict().items():
        assert torch.equal(again[key], value), key


def test_import_pt_refuses_a_training_checkpoint(generator: Generator, tmp_path: Path) -> None:
    ckpt = _fake_training_checkpoint(generator, tmp_path / "last.ckpt")
    with pytest.raises(ValueError, match="--to-pt"):
        import_pt(ckpt)


def test_verify_pt_detects_changed_weights(generator: Generator, tmp_path: Path) -> None:
    pt = export_state_dict(generator, tmp_path / "g.pt")
    state = torch.load(pt, weights_only=True)
    state["out_layer.0.weight"] = state["out_layer.0.weight"] + 0.1
    torch.save(state, pt)
    report = verify_pt(pt, generator)
    assert not report.weights_equal and not report.passed and report.max_abs_diff > 0
