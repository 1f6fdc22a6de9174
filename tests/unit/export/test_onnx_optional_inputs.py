"""The exported ONNX model's optional norm-statistics inputs: no initializer among the graph
inputs (so onnxruntime loads it without "Initializer norm_stats appears in graph inputs"),
while feeding only ``photo`` still gives the plain generator and fed statistics still act."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from animegan.export import export_onnx
from animegan.inference.norm_stats import NormStatsGenerator
from animegan.models import GeneratorLite

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratorLite, Path]:
    torch.manual_seed(0)
    generator = GeneratorLite().eval()
    return generator, export_onnx(generator, tmp_path_factory.mktemp("onnx") / "g.onnx")


def test_no_initializer_is_a_graph_input(exported: tuple[GeneratorLite, Path]) -> None:
    _, path = exported
    graph = onnx.load(str(path)).graph
    inputs = {i.name: i for i in graph.input}
    assert set(inputs) == {"photo", "norm_stats", "norm_mix"}
    assert not set(inputs) & {init.name for init in graph.initializer}
    for name in ("norm_stats", "norm_mix"):
        assert inputs[name].type.HasField("optional_type")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def test_loads_without_onnxruntime_warnings(
    exported: tuple[GeneratorLite, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    _, path = exported
    capfd.readouterr()
    options = ort.SessionOptions()
    options.log_severity_level = 2  # warnings and errors are printed, info is not
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.run(["fake_anime"], {"photo": np.zeros((1, 3, 32, 32), np.float32)})
    printed = capfd.readouterr()
    text = printed.out + printed.err
    assert "appears in graph inputs" not in text
    assert "[W:onnxruntime" not in text and "[E:onnxruntime" not in text
    inputs = {i.name: i for i in session.get_inputs()}
    assert session.get_overridable_initializers() == []
    num_norms = NormStatsGenerator(exported[0]).num_norms
    assert inputs["norm_stats"].shape[1:] == [num_norms, 2] and inputs["norm_mix"].shape == [1]


def test_defaults_and_fed_statistics(exported: tuple[GeneratorLite, Path]) -> None:
    generator, path = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = NormStatsGenerator(generator).eval()
    rng = np.random.default_rng(0)
    photo = rng.uniform(-1, 1, (2, 3, 24, 40)).astype(np.float32)
    other = rng.uniform(-1, 1, (1, 3, 48, 32)).astype(np.float32)
    with torch.inference_mode():
        plain = generator(torch.from_numpy(photo)).numpy()
        zeros = torch.zeros(1, model.num_norms, 2)
        _, stats = model(torch.from_numpy(other), zeros, torch.zeros(1))
        borrowed, _ = model(torch.from_numpy(photo), stats, torch.ones(1))
    only_photo, own_stats = session.run(None, {"photo": photo})
    assert np.abs(only_photo - plain).max() < 1e-4
    assert own_stats.shape == (2, model.num_norms, 2)
    fed, _ = session.run(
        None,
        {"photo": photo, "norm_stats": stats.numpy(), "norm_mix": np.ones(1, np.float32)},
    )
    assert np.abs(fed - borrowed.numpy()).max() < 1e-4
    assert np.abs(fed - only_photo).max() > 1e-3  # the statistics were used, not the default
