"""ArcFace IResNet: arcface_torch key layout, freezing, weight errors, and ONNX round trips."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from animegan.models import (
    WeightsNotFoundError,
    iresnet18,
    iresnet34,
    iresnet50,
    iresnet100,
    load_arcface_onnx_weights,
)


def _randomize_bn(model: nn.Module) -> None:
    # Non-trivial BN statistics, so folding or dropping a BN would change the output.
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)
        if isinstance(module, nn.Conv2d):
            module.weight.data.mul_(0.3)  # keep activations of a random net in a sane range


def test_iresnet50_layout_matches_arcface_torch() -> None:
    with torch.device("meta"):
        model = iresnet50()
    state = model.state_dict()
    assert len(state) == 475
    assert sum(p.numel() for p in model.parameters()) == 43_590_848
    assert state["conv1.weight"].shape == (64, 3, 3, 3)
    assert state["prelu.weight"].shape == (64,)
    assert state["layer1.0.downsample.0.weight"].shape == (64, 64, 1, 1)
    assert state["layer3.13.conv2.weight"].shape == (256, 256, 3, 3)
    assert state["fc.weight"].shape == (512, 25088)
    assert state["features.running_var"].shape == (512,)
    assert "layer1.1.downsample.0.weight" not in state  # only first blocks project


@pytest.mark.parametrize(
    ("factory", "blocks"),
    [(iresnet18, [2, 2, 2, 2]), (iresnet34, [3, 4, 6, 3]), (iresnet100, [3, 13, 30, 3])],
)
def test_depths(factory, blocks: list[int]) -> None:
    with torch.device("meta"):
        model = factory()
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == blocks


def test_frozen_eval_and_gradient_to_input() -> None:
    model = iresnet18()
    assert not any(p.requires_grad for p in model.parameters())
    model.train()
    assert not model.training and not model.bn1.training
    face = (torch.rand(2, 3, 112, 112) * 2 - 1).requires_grad_(True)
    embedding = model(face)
    assert embedding.shape == (2, 512)
    embedding.sum().backward()
    assert face.grad is not None and face.grad.abs().sum() > 0


def test_strict_load_from_arcface_torch_state_dict(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = iresnet18(frozen=False)
    _randomize_bn(source)
    path = tmp_path / "backbone.pth"
    # arcface_torch saves the bare state_dict; DDP-trained ones carry "module." prefixes.
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, path)
    loaded = iresnet18(weights_path=path)
    face = torch.rand(1, 3, 112, 112) * 2 - 1
    source.eval()
    torch.testing.assert_close(loaded(face), source(face))


def test_wrong_or_missing_weights(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "backbone.pth"
    with pytest.raises(WeightsNotFoundError, match="backbone.pth"):
        iresnet50(weights_path=missing)
    with pytest.raises(WeightsNotFoundError, match="w600k_r50.onnx"):
        iresnet50(onnx_path=tmp_path / "w600k_r50.onnx")
    wrong = tmp_path / "r18.pth"
    torch.save(iresnet18().state_dict(), wrong)
    with pytest.raises(ValueError, match="not an arcface_torch ir50"):
        iresnet50(weights_path=wrong)


@pytest.fixture(scope="module")
def exported_r18(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, Path]:
    torch.manual_seed(0)
    model = iresnet18(frozen=False)
    _randomize_bn(model)
    model.eval()
    path = tmp_path_factory.mktemp("onnx") / "r18.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # arcface_torch's torch2onnx.py: TorchScript exporter, constant folding (BN into conv).
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, 112, 112),),
            str(path),
            dynamo=False,
            input_names=["input.1"],
            output_names=["embedding"],
            dynamic_axes={"input.1": {0: "batch"}},
            do_constant_folding=True,
            opset_version=11,
        )
    return model, path


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_onnx_initializers_load_into_pytorch(exported_r18: tuple[nn.Module, Path]) -> None:
    source, path = exported_r18
    import onnx

    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Conv" in ops and "PRelu" in ops
    loaded = load_arcface_onnx_weights(iresnet18(), path)
    assert not any(p.requires_grad for p in loaded.parameters())
    face = torch.rand(2, 3, 112, 112) * 2 - 1
    with torch.no_grad():
        ours, reference = loaded(face).numpy(), source(face).numpy()
    assert _relative_error(ours, reference) < 1e-4

    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    runtime = session.run(None, {"input.1": face.numpy()})[0]
    assert _relative_error(ours, runtime) < 1e-4


def test_embedding_equals_insightface_arcfaceonnx(exported_r18: tuple[nn.Module, Path]) -> None:
    _, path = exported_r18
    arcface_onnx = pytest.importorskip("insightface.model_zoo.arcface_onnx")
    recogniser = arcface_onnx.ArcFaceONNX(model_file=str(path))
    assert (recogniser.input_mean, recogniser.input_std) == (127.5, 127.5)
    rng = np.random.default_rng(0)
    crop_rgb = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    # insightface takes OpenCV BGR crops and swaps to RGB inside get_feat.
    theirs = recogniser.get_feat(np.ascontiguousarray(crop_rgb[:, :, ::-1]))
    model = load_arcface_onnx_weights(iresnet18(), path)
    face = torch.from_numpy(crop_rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        ours = model(face).numpy()
    assert _relative_error(ours, theirs) < 1e-4
    cosine = float((ours * theirs).sum() / np.linalg.norm(ours) / np.linalg.norm(theirs))
    assert cosine > 0.99999


def test_onnx_depth_mismatch_is_named(exported_r18: tuple[nn.Module, Path]) -> None:
    _, path = exported_r18
    with pytest.raises(ValueError, match="wrong depth"):
        load_arcface_onnx_weights(iresnet34(), path)
