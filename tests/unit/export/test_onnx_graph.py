"""ONNX graph surgery helpers on hand-made graphs."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from animegan.export.onnx_graph import edge_conv_nodes, topological_sort  # noqa: E402


def _graph(nodes):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])
    return helper.make_graph(nodes, "g", [x], [y])


def testtopological_sort_puts_every_node_after_its_inputs() -> None:
    second = helper.make_node("Relu", ["a"], ["y"], name="second")
    first = helper.make_node("Neg", ["x"], ["a"], name="first")
    graph = _graph([second, first])
    topological_sort(graph)
    assert [node.name for node in graph.node] == ["first", "second"]
    loop = _graph([helper.make_node("Neg", ["b"], ["a"]), helper.make_node("Neg", ["a"], ["b"])])
    with pytest.raises(ValueError, match="cycle"):
        topological_sort(loop)


def test_edge_conv_nodes_needs_two_convs(tmp_path) -> None:
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    graph = _graph([helper.make_node("Conv", ["x", "w"], ["y"], name="only")])
    graph.initializer.append(weight)
    path = tmp_path / "one_conv.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="1 Conv nodes"):
        edge_conv_nodes(path)
