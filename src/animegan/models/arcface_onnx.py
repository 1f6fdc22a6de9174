"""Import the weights of an insightface / arcface_torch ONNX recogniser into our IResNet.

Why by hand: no library maps an ONNX graph back onto a PyTorch module (``onnx2torch`` builds its
own module tree, not arcface_torch's layout and key names). Matching is structural, not by
tensor name (exporters rename freely): the parametrised ops are read in graph order into typed
units; each Conv/Gemm is paired with the BatchNormalization that consumes its output, if any
(otherwise the exporter folded that BN into the conv's bias); 1x1 convolutions are the shortcut
projections. The same units are listed from the PyTorch model in forward order, and every
shape is checked while copying.

When a BatchNorm was folded away, our BN is set to an exact identity-plus-bias
(``running_var = 1 - eps``), so the network computes the same function with the unchanged
layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from animegan.models.weights import WeightsNotFoundError

if TYPE_CHECKING:
    from animegan.models.arcface import IResNet

# Ops that only reshape/cast a weight on its way from an initializer to the op using it.
_PASS_THROUGH_OPS = frozenset({"Identity", "Reshape", "Unsqueeze", "Squeeze", "Cast", "Flatten"})


@dataclass(frozen=True)
class BatchNormParams:
    """A BatchNormalization node's constants (each [C]) and epsilon."""

    scale: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float


@dataclass(frozen=True)
class LinearUnit:
    """A Conv or fully connected op: weight, optional bias, and the BN applied to its output."""

    kind: Literal["conv", "fc"]
    weight: np.ndarray
    bias: np.ndarray | None
    bn: BatchNormParams | None


@dataclass(frozen=True)
class NormUnit:
    """A BatchNormalization that follows no conv (the pre-activation BNs)."""

    params: BatchNormParams
    kind: Literal["bn"] = "bn"


@dataclass(frozen=True)
class PReluUnit:
    """A PRelu with its per-channel slope."""

    slope: np.ndarray
    kind: Literal["prelu"] = "prelu"


Unit = LinearUnit | NormUnit | PReluUnit


@dataclass(frozen=True)
class ExpectedUnit:
    """A PyTorch module that should receive one unit, with the BN that follows it (if any)."""

    kind: Literal["conv", "fc", "bn", "prelu"]
    module: nn.Module
    bn: nn.Module | None = None


class _Graph:
    """Constants (initializers, Constant nodes) and consumers of an ONNX graph."""

    def __init__(self, graph: Any) -> None:
        from onnx import numpy_helper

        self.values: dict[str, np.ndarray] = {
            init.name: numpy_helper.to_array(init) for init in graph.initializer
        }
        self.producers: dict[str, Any] = {}
        self.consumers: dict[str, list[Any]] = {}
        for node in graph.node:
            for output in node.output:
                self.producers[output] = node
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
            if node.op_type == "Constant":
                for attribute in node.attribute:
                    if attribute.name == "value":
                        self.values[node.output[0]] = numpy_helper.to_array(attribute.t)

    def constant(self, name: str) -> np.ndarray | None:
        """The value of ``name`` when it is a constant, possibly behind reshape/cast ops."""
        for _ in range(8):
            if name in self.values:
                return self.values[name]
            node = self.producers.get(name)
            if node is None or node.op_type not in _PASS_THROUGH_OPS:
                return None
            name = node.input[0]
        return self.values.get(name)

    def optional_input(self, node: Any, index: int) -> np.ndarray | None:
        if len(node.input) > index and node.input[index]:
            return self.constant(node.input[index])
        return None

    def bn_after(self, node: Any) -> Any | None:
        """The BatchNormalization that is the only consumer of ``node``'s output, if any."""
        users = self.consumers.get(node.output[0], [])
        if len(users) == 1 and users[0].op_type == "BatchNormalization":
            return users[0]
        return None

    def bn_params(self, node: Any) -> BatchNormParams:
        params = [self.constant(name) for name in node.input[1:5]]
        if any(p is None for p in params):
            raise ValueError(f"BatchNormalization {node.name!r} has non-constant parameters")
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        scale, bias, mean, var = params
        return BatchNormParams(scale, bias, mean, var, float(eps))  # type: ignore[arg-type]


def read_units(graph: Any) -> tuple[list[Unit], list[LinearUnit]]:
    """The parametrised ops of an ONNX graph, in graph order.

    Args:
        graph: an ``onnx.GraphProto``.

    Returns:
        ``(main, projections)``: the main path's units, and the 1x1 shortcut convolutions.
    """
    onnx_graph = _Graph(graph)
    main: list[Unit] = []
    projections: list[LinearUnit] = []
    paired: set[int] = set()

    def paired_bn(node: Any) -> BatchNormParams | None:
        bn = onnx_graph.bn_after(node)
        if bn is None:
            return None
        paired.add(id(bn))
        return onnx_graph.bn_params(bn)

    for node in graph.node:
        op = node.op_type
        if op == "Conv":
            weight = onnx_graph.constant(node.input[1])
            if weight is None:
                continue
            unit = LinearUnit("conv", weight, onnx_graph.optional_input(node, 2), paired_bn(node))
            (projections if weight.shape[-1] == 1 else main).append(unit)
        elif op == "BatchNormalization" and id(node) not in paired:
            main.append(NormUnit(onnx_graph.bn_params(node)))
        elif op == "PRelu":
            slope = onnx_graph.constant(node.input[1])
            if slope is not None:
                main.append(PReluUnit(slope))
        elif op in ("Gemm", "MatMul"):
            weight = onnx_graph.constant(node.input[1])
            if weight is None:
                continue
            trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
            if op == "MatMul" or not trans_b:
                weight = weight.T
            main.append(
                LinearUnit("fc", weight, onnx_graph.optional_input(node, 2), paired_bn(node))
            )
    return main, projections


def expected_units(model: IResNet) -> tuple[list[ExpectedUnit], list[ExpectedUnit]]:
    """The modules of ``model`` that receive the units of :func:`read_units`, in forward order."""
    main = [ExpectedUnit("conv", model.conv1, model.bn1), ExpectedUnit("prelu", model.prelu)]
    projections: list[ExpectedUnit] = []
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in stage:
            main += [
                ExpectedUnit("bn", block.bn1),
                ExpectedUnit("conv", block.conv1, block.bn2),
                ExpectedUnit("prelu", block.prelu),
                ExpectedUnit("conv", block.conv2, block.bn3),
            ]
            if isinstance(block.downsample, nn.Sequential):
                projections.append(ExpectedUnit("conv", block.downsample[0], block.downsample[1]))
    main += [ExpectedUnit("bn", model.bn2), ExpectedUnit("fc", model.fc, model.features)]
    return main, projections


def _float_tensor(value: np.ndarray) -> Tensor:
    return torch.from_numpy(np.array(value, dtype=np.float32, copy=True))


@torch.no_grad()
def _copy(target: Tensor, value: np.ndarray, what: str, source: Path) -> None:
    tensor = _float_tensor(value)
    if tensor.numel() != target.numel() or (
        tensor.dim() == target.dim() and tensor.shape != target.shape
    ):
        raise ValueError(
            f"{source}: {what} has shape {tuple(tensor.shape)}, expected {tuple(target.shape)}"
        )
    target.copy_(tensor.reshape(target.shape))


@torch.no_grad()
def _set_bn(bn: nn.Module, params: BatchNormParams) -> None:
    bn.weight.copy_(_float_tensor(params.scale).reshape(-1))
    bn.bias.copy_(_float_tensor(params.bias).reshape(-1))
    bn.running_mean.copy_(_float_tensor(params.mean).reshape(-1))
    # Keep the ONNX epsilon's effect under our module's epsilon.
    bn.running_var.copy_(_float_tensor(params.var).reshape(-1) + (params.eps - bn.eps))


@torch.no_grad()
def _set_identity_bn(bn: nn.Module, bias: np.ndarray | None) -> None:
    # (x - 0) / sqrt((1 - eps) + eps) * 1 + bias == x + bias exactly.
    bn.weight.fill_(1.0)
    if bias is None:
        bn.bias.zero_()
    else:
        bn.bias.copy_(_float_tensor(bias).reshape(-1))
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)


def _load_linear(target: ExpectedUnit, unit: LinearUnit, what: str, source: Path) -> None:
    _copy(target.module.weight, unit.weight, what, source)
    if target.kind == "fc":
        # The embedding layer keeps its own bias; a following BN1d is loaded or made identity.
        with torch.no_grad():
            if unit.bn is not None and unit.bias is not None:
                target.module.bias.copy_(_float_tensor(unit.bias).reshape(-1))
            else:
                target.module.bias.zero_()
        if unit.bn is not None:
            _set_bn(target.bn, unit.bn)
        else:
            _set_identity_bn(target.bn, unit.bias)
        return
    if target.bn is None:
        return
    if unit.bn is not None:
        if unit.bias is not None and np.any(unit.bias):
            raise ValueError(f"{source}: {what} has a bias and a BatchNorm after it")
        _set_bn(target.bn, unit.bn)
    else:
        _set_identity_bn(target.bn, unit.bias)


def load_arcface_onnx_weights(model: IResNet, onnx_path: str | Path) -> IResNet:
    """Copy the weights of an insightface/arcface_torch ONNX recogniser into ``model`` in place.

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

    source = Path(onnx_path).expanduser()
    if not source.is_file():
        raise WeightsNotFoundError(
            f"ArcFace ONNX weights not found: {source} does not exist. Put insightface's "
            f"w600k_r50.onnx there (from the buffalo_l pack, ~/.insightface/models/buffalo_l/)."
        )
    main, projections = read_units(onnx.load(str(source)).graph)
    expected_main, expected_projections = expected_units(model)
    if len(main) != len(expected_main) or len(projections) != len(expected_projections):
        raise ValueError(
            f"{source} does not match this IResNet: it has {len(main)} parametrised ops and "
            f"{len(projections)} projections, the model expects {len(expected_main)} and "
            f"{len(expected_projections)} (wrong depth? iresnet50 for w600k_r50.onnx)."
        )
    for index, (unit, target) in enumerate(zip(main, expected_main, strict=True)):
        what = f"op {index} ({target.kind})"
        if unit.kind != target.kind:
            raise ValueError(
                f"{source} does not match this IResNet: {what} is {unit.kind!r} in the file"
            )
        if isinstance(unit, LinearUnit):
            _load_linear(target, unit, what, source)
        elif isinstance(unit, PReluUnit):
            _copy(target.module.weight, unit.slope, what, source)
        else:
            _set_bn(target.module, unit.params)
    for index, (unit, target) in enumerate(zip(projections, expected_projections, strict=True)):
        _load_linear(target, unit, f"projection {index}", source)
    return model
