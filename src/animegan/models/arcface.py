"""ArcFace IResNet backbones with insightface arcface_torch's module layout and key names.

``backbone.pth`` files written by arcface_torch (e.g. ``ms1mv3_arcface_r50_fp16/backbone.pth``)
load with ``strict=True``; insightface's ONNX recognisers (``buffalo_l/w600k_r50.onnx``) load
through :func:`load_arcface_onnx_weights`, which reads the ONNX initializers. When the ONNX
export folded a BatchNorm into the preceding convolution, the conv gets the folded weight and
the BatchNorm is set to an exact identity-plus-bias (running_var = 1 - eps), so the PyTorch
network computes the same function with the unchanged layout.

Input: RGB 112x112 in [-1, 1] (``(pixel - 127.5) / 127.5``, insightface's ``ArcFaceONNX``
preprocessing). Output: [B, 512] embedding, not normalised.

The networks built by :func:`iresnet50` & co. are identity *judges* for losses and metrics:
frozen (no parameter requires grad), always in eval mode (BatchNorm statistics never change),
gradients still flow to the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from animegan.models.weights import (
    WeightsNotFoundError,
    describe_keys,
    load_state_dict_file,
    strip_wrapper_prefixes,
)

__all__ = [
    "IBasicBlock",
    "IResNet",
    "IRESNET_LAYERS",
    "iresnet18",
    "iresnet34",
    "iresnet50",
    "iresnet100",
    "load_arcface_onnx_weights",
]

# Blocks per stage of arcface_torch's backbones.
IRESNET_LAYERS: dict[str, tuple[int, int, int, int]] = {
    "r18": (2, 2, 2, 2),
    "r34": (3, 4, 6, 3),
    "r50": (3, 4, 14, 3),
    "r100": (3, 13, 30, 3),
}
_BN_EPS = 1e-5
_INPUT_SIZE = 112


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class IBasicBlock(nn.Module):
    """Pre-activation residual block: BN · conv3x3 · BN · PReLU · conv3x3(stride) · BN (+ shortcut).

    Args:
        inplanes: input channels.
        planes: output channels.
        stride: stride of the second convolution (2 in the first block of each stage).
        downsample: shortcut projection (conv1x1 + BN) when shape changes, else ``None``.
    """

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=_BN_EPS)
        self.conv1 = _conv3x3(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes, eps=_BN_EPS)
        self.prelu = nn.PReLU(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes, eps=_BN_EPS)
        self.downsample = downsample if downsample is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """[B, inplanes, H, W] → [B, planes, H/stride, W/stride]."""
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + self.downsample(x)


class IResNet(nn.Module):
    """ArcFace IResNet (arcface_torch ``backbones/iresnet.py``), frozen and in eval mode.

    Key layout: ``conv1``, ``bn1``, ``prelu``, ``layer1..4.i.{bn1, conv1, bn2, prelu, conv2, bn3,
    downsample.0, downsample.1}``, ``bn2``, ``fc`` (512 x 25088), ``features`` (BatchNorm1d).
    Dropout of the training recipe is omitted: it is the identity in eval mode and has no state.

    Args:
        layers: blocks per stage, e.g. ``(3, 4, 14, 3)`` for r50.
        num_features: embedding size (512 in every published model).
        frozen: freeze parameters and pin eval mode (the default; pass ``False`` only to
            train or fine-tune a backbone).
    """

    def __init__(
        self, layers: Sequence[int], num_features: int = 512, *, frozen: bool = True
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"IResNet needs 4 stage depths, got {list(layers)}")
        self.frozen = frozen
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=_BN_EPS)
        self.prelu = nn.PReLU(64)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1])
        self.layer3 = self._make_layer(256, layers[2])
        self.layer4 = self._make_layer(512, layers[3])
        self.bn2 = nn.BatchNorm2d(512, eps=_BN_EPS)
        self.fc = nn.Linear(512 * 7 * 7, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=_BN_EPS)
        # arcface_torch's init, so a random backbone has realistic activation scales.
        nn.init.constant_(self.features.weight, 1.0)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0, 0.1)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
        if frozen:
            self.requires_grad_(False)
            super().train(False)

    def _make_layer(self, planes: int, blocks: int) -> nn.Sequential:
        downsample = nn.Sequential(
            nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=2, bias=False),
            nn.BatchNorm2d(planes, eps=_BN_EPS),
        )
        layers: list[nn.Module] = [IBasicBlock(self.inplanes, planes, 2, downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def train(self, mode: bool = True) -> IResNet:
        """A frozen backbone ignores ``mode`` and stays in eval mode (BN statistics fixed)."""
        return super().train(False if self.frozen else mode)

    def forward(self, face: Tensor) -> Tensor:
        """Embed aligned faces.

        Args:
            face: [B, 3, 112, 112] RGB ArcFace crops in [-1, 1].

        Returns:
            [B, num_features] embeddings (not L2-normalised).
        """
        x = self.prelu(self.bn1(self.conv1(face)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.bn2(x), 1)
        return self.features(self.fc(x))


def _build(
    name: str,
    weights_path: str | Path | None,
    onnx_path: str | Path | None,
    frozen: bool,
) -> IResNet:
    model = IResNet(IRESNET_LAYERS[name], frozen=frozen)
    if weights_path is not None and onnx_path is not None:
        raise ValueError("give weights_path (arcface_torch .pth) or onnx_path, not both")
    if weights_path is not None:
        state_dict = strip_wrapper_prefixes(
            load_state_dict_file(
                weights_path,
                what=f"ArcFace i{name} weights",
                hint=(
                    f"Put arcface_torch's backbone.pth for i{name} there (e.g. "
                    f"ms1mv3_arcface_{name}_fp16/backbone.pth from the insightface model zoo), "
                    f"or give onnx_path=.../buffalo_l/w600k_r50.onnx instead."
                ),
            )
        )
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{weights_path} is not an arcface_torch i{name} state_dict: missing "
                f"{describe_keys(missing)}, unexpected {describe_keys(unexpected)}."
            )
    elif onnx_path is not None:
        load_arcface_onnx_weights(model, onnx_path)
    return model


def iresnet18(
    weights_path: str | Path | None = None,
    onnx_path: str | Path | None = None,
    *,
    frozen: bool = True,
) -> IResNet:
    """ArcFace IResNet-18 (blocks 2, 2, 2, 2). See :func:`iresnet50` for the arguments."""
    return _build("r18", weights_path, onnx_path, frozen)


def iresnet34(
    weights_path: str | Path | None = None,
    onnx_path: str | Path | None = None,
    *,
    frozen: bool = True,
) -> IResNet:
    """ArcFace IResNet-34 (blocks 3, 4, 6, 3). See :func:`iresnet50` for the arguments."""
    return _build("r34", weights_path, onnx_path, frozen)


def iresnet50(
    weights_path: str | Path | None = None,
    onnx_path: str | Path | None = None,
    *,
    frozen: bool = True,
) -> IResNet:
    """ArcFace IResNet-50 (blocks 3, 4, 14, 3; 43.6 M parameters, 475 state_dict tensors).

    Args:
        weights_path: arcface_torch ``backbone.pth`` (a plain state_dict, loaded with
            ``weights_only=True`` and matched strictly); ``None`` keeps random weights.
        onnx_path: insightface ONNX recogniser of the same depth (``w600k_r50.onnx``), read
            from its initializers; exclusive with ``weights_path``.
        frozen: no parameter requires grad and the module stays in eval mode.

    Returns:
        The backbone; input [B, 3, 112, 112] RGB in [-1, 1], output [B, 512].

    Raises:
        WeightsNotFoundError: the named file does not exist.
        ValueError: the file does not match the i50 layout.
    """
    return _build("r50", weights_path, onnx_path, frozen)


def iresnet100(
    weights_path: str | Path | None = None,
    onnx_path: str | Path | None = None,
    *,
    frozen: bool = True,
) -> IResNet:
    """ArcFace IResNet-100 (blocks 3, 13, 30, 3). See :func:`iresnet50` for the arguments."""
    return _build("r100", weights_path, onnx_path, frozen)


# ------------------------------------------------------------------------------ ONNX loading
# Ops that only reshape/cast a weight on its way from an initializer to the op using it.
_PASS_THROUGH_OPS = frozenset({"Identity", "Reshape", "Unsqueeze", "Squeeze", "Cast", "Flatten"})


class _OnnxConstants:
    """Resolve a node input to a numpy array when it is (a reshape of) a constant."""

    def __init__(self, graph: object) -> None:
        from onnx import numpy_helper

        self.values: dict[str, np.ndarray] = {
            init.name: numpy_helper.to_array(init)
            for init in graph.initializer  # type: ignore[attr-defined]
        }
        self.producers: dict[str, object] = {}
        for node in graph.node:  # type: ignore[attr-defined]
            for output in node.output:
                self.producers[output] = node
            if node.op_type == "Constant":
                for attribute in node.attribute:
                    if attribute.name == "value":
                        self.values[node.output[0]] = numpy_helper.to_array(attribute.t)

    def get(self, name: str) -> np.ndarray | None:
        seen = 0
        while name not in self.values and seen < 8:
            node = self.producers.get(name)
            if node is None or node.op_type not in _PASS_THROUGH_OPS:  # type: ignore[attr-defined]
                return None
            name = node.input[0]  # type: ignore[attr-defined]
            seen += 1
        return self.values.get(name)


def _identity_bn(bn: nn.BatchNorm2d | nn.BatchNorm1d, bias: np.ndarray | None) -> None:
    # (x - 0) / sqrt((1 - eps) + eps) * 1 + bias == x + bias exactly: a BN folded away by the
    # exporter is re-expressed in the unchanged layout.
    with torch.no_grad():
        bn.weight.fill_(1.0)
        if bias is None:
            bn.bias.zero_()
        else:
            bn.bias.copy_(torch.from_numpy(np.array(bias, dtype=np.float32)).reshape(-1))
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)


def _set_bn(bn: nn.BatchNorm2d | nn.BatchNorm1d, params: list[np.ndarray], eps: float) -> None:
    scale, bias, mean, var = (
        torch.from_numpy(np.array(p, dtype=np.float32, copy=True)).reshape(-1) for p in params
    )
    with torch.no_grad():
        bn.weight.copy_(scale)
        bn.bias.copy_(bias)
        bn.running_mean.copy_(mean)
        # Keep the ONNX epsilon's effect under our module's epsilon.
        bn.running_var.copy_(var + (eps - bn.eps))


def load_arcface_onnx_weights(model: IResNet, onnx_path: str | Path) -> IResNet:
    """Copy the weights of an insightface/arcface_torch ONNX recogniser into ``model`` in place.

    Matching is structural, not by tensor name (exporters rename freely): parametrised ops are
    read in graph order; each Conv is paired with the BatchNormalization that consumes its
    output, if any (otherwise the BN was folded into the conv's bias); 1x1 convolutions are the
    shortcut projections. Every shape is checked.

    Args:
        model: an :class:`IResNet` of the same depth as the file.
        onnx_path: path of the ``.onnx`` file (e.g. ``buffalo_l/w600k_r50.onnx``).

    Returns:
        ``model``, with every parameter and BN statistic overwritten.

    Raises:
        WeightsNotFoundError: ``onnx_path`` does not exist.
        ValueError: the graph does not match the model's layout.
    """
    import onnx

    onnx_path = Path(onnx_path).expanduser()
    if not onnx_path.is_file():
        raise WeightsNotFoundError(
            f"ArcFace ONNX weights not found: {onnx_path} does not exist. Put insightface's "
            f"w600k_r50.onnx there (from the buffalo_l pack, ~/.insightface/models/buffalo_l/)."
        )
    graph = onnx.load(str(onnx_path)).graph
    constants = _OnnxConstants(graph)
    consumers: dict[str, list[object]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def bn_after(node: object) -> object | None:
        users = consumers.get(node.output[0], [])  # type: ignore[attr-defined]
        if len(users) == 1 and users[0].op_type == "BatchNormalization":  # type: ignore[attr-defined]
            return users[0]
        return None

    def bn_params(node: object) -> tuple[list[np.ndarray], float]:
        params = [constants.get(name) for name in node.input[1:5]]  # type: ignore[attr-defined]
        if any(p is None for p in params):
            raise ValueError(f"BatchNormalization {node.name!r} has non-constant parameters")  # type: ignore[attr-defined]
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)  # type: ignore[attr-defined]
        return params, float(eps)  # type: ignore[return-value]

    # Units read from the graph: ("conv", w, b, bn) / ("bn", params, eps) / ("prelu", slope) /
    # ("fc", w, b, bn); projections (1x1 convs) are queued separately.
    main: list[tuple] = []
    projections: list[tuple] = []
    paired_bns: set[int] = set()
    for node in graph.node:
        op = node.op_type
        if op == "Conv":
            weight = constants.get(node.input[1])
            bias = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            if weight is None:
                continue
            bn = bn_after(node)
            if bn is not None:
                paired_bns.add(id(bn))
            unit = ("conv", weight, bias, bn)
            (projections if weight.shape[-1] == 1 else main).append(unit)
        elif op == "BatchNormalization" and id(node) not in paired_bns:
            main.append(("bn", node))
        elif op == "PRelu":
            slope = constants.get(node.input[1])
            if slope is not None:
                main.append(("prelu", slope))
        elif op in ("Gemm", "MatMul"):
            weight = constants.get(node.input[1])
            bias = constants.get(node.input[2]) if len(node.input) > 2 else None
            if weight is None:
                continue
            transposed = op == "MatMul" or not any(
                a.name == "transB" and a.i == 1 for a in node.attribute
            )
            if transposed:
                weight = weight.T
            bn = bn_after(node)
            if bn is not None:
                paired_bns.add(id(bn))
            main.append(("fc", weight, bias, bn))

    # The same units from the PyTorch model, in forward order.
    expected: list[tuple[str, nn.Module, nn.Module | None]] = [
        ("conv", model.conv1, model.bn1),
        ("prelu", model.prelu, None),
    ]
    expected_projections: list[tuple[nn.Module, nn.Module]] = []
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in stage:
            expected += [
                ("bn", block.bn1, None),
                ("conv", block.conv1, block.bn2),
                ("prelu", block.prelu, None),
                ("conv", block.conv2, block.bn3),
            ]
            if isinstance(block.downsample, nn.Sequential):
                expected_projections.append((block.downsample[0], block.downsample[1]))
    expected += [("bn", model.bn2, None), ("fc", model.fc, model.features)]

    if len(main) != len(expected) or len(projections) != len(expected_projections):
        raise ValueError(
            f"{onnx_path} does not match this IResNet: it has {len(main)} parametrised ops and "
            f"{len(projections)} projections, the model expects {len(expected)} and "
            f"{len(expected_projections)} (wrong depth? iresnet50 for w600k_r50.onnx)."
        )

    def copy(target: Tensor, value: np.ndarray, what: str) -> None:
        tensor = torch.from_numpy(np.array(value, dtype=np.float32, copy=True))
        if tensor.numel() != target.numel() or (
            tensor.dim() == target.dim() and tensor.shape != target.shape
        ):
            raise ValueError(
                f"{onnx_path}: {what} has shape {tuple(tensor.shape)}, expected {tuple(target.shape)}"
            )
        with torch.no_grad():
            target.copy_(tensor.reshape(target.shape))

    def load_linear(module: nn.Module, bn_module: nn.Module | None, unit: tuple, what: str) -> None:
        _, weight, bias, bn = unit
        copy(module.weight, weight, what)
        if bn_module is None:
            return
        if bn is not None:
            params, eps = bn_params(bn)
            _set_bn(bn_module, params, eps)
            if bias is not None and np.any(bias):
                raise ValueError(f"{onnx_path}: {what} has a bias and a BatchNorm after it")
        else:
            _identity_bn(bn_module, bias)

    for index, (unit, (kind, module, bn_module)) in enumerate(zip(main, expected, strict=True)):
        what = f"op {index} ({kind})"
        if unit[0] != kind:
            raise ValueError(
                f"{onnx_path} does not match this IResNet: {what} is {unit[0]!r} in the file"
            )
        if kind == "conv":
            load_linear(module, bn_module, unit, what)
        elif kind == "fc":
            copy(module.weight, unit[1], what)
            if unit[3] is not None:
                params, eps = bn_params(unit[3])
                with torch.no_grad():
                    module.bias.copy_(
                        torch.from_numpy(np.array(unit[2], dtype=np.float32)).reshape(-1)
                        if unit[2] is not None
                        else torch.zeros_like(module.bias)
                    )
                _set_bn(bn_module, params, eps)
            else:
                with torch.no_grad():
                    module.bias.zero_()
                _identity_bn(bn_module, unit[2])
        elif kind == "prelu":
            copy(module.weight, unit[1], what)
        else:
            params, eps = bn_params(unit[1])
            _set_bn(module, params, eps)
    for index, (unit, (conv, bn)) in enumerate(zip(projections, expected_projections, strict=True)):
        load_linear(conv, bn, unit, f"projection {index}")
    return model
