"""ONNX export of the generator with dynamic batch/height/width, and the PyTorch parity check.

The exported graph is :class:`~animegan.inference.norm_stats.NormStatsGenerator`:

- input ``photo`` [B, 3, H, W] float32 RGB in [-1, 1] (B, H, W dynamic; H, W >= 8);
- optional inputs ``norm_stats`` [B or 1, 24, 2] and ``norm_mix`` [1], of ONNX type
  ``optional(tensor(float))``: left out, the graph uses zeros (an ``OptionalHasElement`` /
  ``If`` pair per input), i.e. each photo uses its own statistics, exactly the plain generator;
- output ``fake_anime`` [B, 3, H, W] float32 RGB in [-1, 1];
- output ``photo_norm_stats`` [B, 24, 2] (the statistics the tile pipeline reuses).

A consumer that only feeds ``photo`` and reads ``fake_anime`` sees the ordinary generator.

The defaults were once initializers of the same names, also listed as graph inputs (the
pre-IR-4 way to make an input overridable). onnxruntime then warns on every load
("Initializer norm_stats appears in graph inputs and will not be treated as constant value")
and cannot fold them. Optional-typed inputs say the same thing without an initializer: the
graph's ``input`` and ``initializer`` lists share no name.

Exporter: the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) at opset
17. Tried here against the dynamo exporter (torch 2.14 default, needs the ``onnxscript``
package, not a dependency): the TorchScript one needs nothing extra, exports in ~1 s instead of
~24 s, its plain-generator graph ran ~10% faster in onnxruntime 1.32, and the dynamo one
specialised the broadcast ``norm_stats`` batch axis to the photo batch (runs failed at batch 2).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from animegan.inference.backends import (
    DEFAULT_MIN_SIDE,
    DEFAULT_TILE_ALIGN,
    MIN_SIDE_METADATA,
    NORM_MIX_INPUT,
    NORM_STATS_INPUT,
    NORM_STATS_OUTPUT,
    OUTPUT_NAME,
    PHOTO_INPUT,
    TILE_ALIGN_METADATA,
    ort_session_options,
)
from animegan.inference.norm_stats import NormStatsGenerator

__all__ = [
    "DEFAULT_OPSET",
    "DEFAULT_PARITY_SIZES",
    "PARITY_TOLERANCE",
    "ParityReport",
    "check_parity",
    "export_onnx",
]

log = logging.getLogger(__name__)

DEFAULT_OPSET = 17
# Several sizes, odd and non-square ones included: the generator resizes to recorded sizes,
# which is exactly what breaks when an exporter bakes in a shape.
DEFAULT_PARITY_SIZES: tuple[tuple[int, int], ...] = ((64, 64), (65, 77), (97, 53), (128, 96))
PARITY_TOLERANCE = 1e-4


def _optional_input_with_default(graph, name: str, default: np.ndarray) -> None:
    """Turn the tensor input ``name`` into an ``optional(tensor)`` input with a default.

    The input falls back to ``default`` when it is not fed.

    Every node that read ``name`` reads ``<name>_value`` instead, the output of
    ``If(OptionalHasElement(name))`` whose branches are ``OptionalGetElement(name)`` and a
    ``Constant`` holding ``default``. The input keeps its element type and (symbolic) shape,
    which onnxruntime reports for it.
    """
    from onnx import helper, numpy_helper

    (graph_input,) = [i for i in graph.input if i.name == name]
    tensor_type = graph_input.type.tensor_type
    dims = [d.dim_param or d.dim_value for d in tensor_type.shape.dim]
    elem_type = tensor_type.elem_type
    value = f"{name}_value"
    for node in graph.node:
        for index, used in enumerate(node.input):
            if used == name:
                node.input[index] = value
    fed = helper.make_graph(
        [helper.make_node("OptionalGetElement", [name], [f"{name}_fed"])],
        f"{name}_fed_branch",
        [],
        [helper.make_tensor_value_info(f"{name}_fed", elem_type, dims)],
    )
    fallback = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                [f"{name}_default"],
                value=numpy_helper.from_array(default, name=f"{name}_default_value"),
            )
        ],
        f"{name}_default_branch",
        [],
        [helper.make_tensor_value_info(f"{name}_default", elem_type, list(default.shape))],
    )
    prologue = [
        helper.make_node("OptionalHasElement", [name], [f"{name}_given"]),
        helper.make_node("If", [f"{name}_given"], [value], then_branch=fed, else_branch=fallback),
    ]
    for node in reversed(prologue):
        graph.node.insert(0, node)
    graph_input.type.CopyFrom(
        helper.make_optional_type_proto(helper.make_tensor_type_proto(elem_type, dims))
    )


def _add_input_defaults(
    model_path: Path, num_norms: int, min_side: int, tile_align: int, architecture: str
) -> None:
    """Make the statistics inputs optional and record the generator's geometry.

    ``norm_stats``/``norm_mix`` become optional inputs defaulting to zeros, so feeding only
    ``photo`` works; the smallest side and tile alignment are stored for the stylize pipeline.
    """
    import onnx

    model = onnx.load(str(model_path))
    graph = model.graph
    defaults = {
        NORM_STATS_INPUT: np.zeros((1, num_norms, 2), dtype=np.float32),
        NORM_MIX_INPUT: np.zeros((1,), dtype=np.float32),
    }
    stale = {init.name for init in graph.initializer} & set(defaults)
    if stale:  # never expected from the exporter; an initializer would shadow the input
        raise RuntimeError(f"exported graph has initializers named like inputs: {sorted(stale)}")
    for name, value in defaults.items():
        _optional_input_with_default(graph, name, value)
    model.doc_string = (
        "AnimeGANv2 generator. photo: [B,3,H,W] RGB in [-1,1]; fake_anime: same. Optional "
        "norm_stats [B|1,L,2] + norm_mix [1] (1 = use norm_stats; both default to zeros) "
        "reuse layer-norm statistics across tiles; photo_norm_stats returns them."
    )
    onnx.helper.set_model_props(
        model,
        {
            "animegan.input_range": "[-1, 1]",
            "animegan.num_norms": str(num_norms),
            "animegan.architecture": architecture,
            MIN_SIDE_METADATA: str(min_side),
            TILE_ALIGN_METADATA: str(tile_align),
        },
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(model_path))


def export_onnx(
    generator: nn.Module,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    sample_size: int = 64,
) -> Path:
    """Export a generator to ONNX with dynamic batch, height and width.

    The model's metadata records the generator class (``animegan.architecture``) and its
    ``animegan.min_side`` / ``animegan.tile_align``, which the ONNX stylize backend reads.

    Args:
        generator: AnimeGANv2 generator, full or lite (on any device; exported from a CPU
            copy).
        path: output ``.onnx`` file (parent folders are created).
        opset: ONNX opset (>= 17).
        sample_size: side of the example input used for tracing (any size >= the generator's
            ``min_side`` gives the same graph, since every shape is dynamic); raised to
            ``min_side`` when smaller.

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    min_side = int(getattr(generator, "min_side", DEFAULT_MIN_SIDE))
    tile_align = int(getattr(generator, "tile_align", DEFAULT_TILE_ALIGN))
    sample_size = max(sample_size, min_side)
    model = NormStatsGenerator(generator).to("cpu").float().eval()
    example = (
        torch.zeros(1, 3, sample_size, sample_size),
        torch.zeros(1, model.num_norms, 2),
        torch.zeros(1),
    )
    input_names = [PHOTO_INPUT, NORM_STATS_INPUT, NORM_MIX_INPUT]
    output_names = [OUTPUT_NAME, NORM_STATS_OUTPUT]
    with warnings.catch_warnings():
        # The legacy exporter warns about its own deprecation and unfoldable slices; neither
        # affects the graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            example,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes={
                PHOTO_INPUT: {0: "batch", 2: "height", 3: "width"},
                NORM_STATS_INPUT: {0: "stats_batch"},
                OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                NORM_STATS_OUTPUT: {0: "batch"},
            },
        )
    _add_input_defaults(
        path, model.num_norms, min_side, tile_align, type(_unwrap(generator)).__name__
    )
    return path


def _unwrap(generator: nn.Module) -> nn.Module:
    """The module inside torch.compile / DDP wrappers (for its class name)."""
    while hasattr(generator, "_orig_mod") or hasattr(generator, "module"):
        generator = getattr(generator, "_orig_mod", None) or generator.module
    return generator


@dataclass
class ParityReport:
    """Outcome of :func:`check_parity`.

    Attributes:
        rows: ``(height, width, max_abs_diff)`` per size, own-statistics path.
        stats_path_diff: max abs difference with external statistics (the tile path).
        tolerance: the bound every difference must stay under.
    """

    rows: list[tuple[int, int, float]] = field(default_factory=list)
    stats_path_diff: float = 0.0
    tolerance: float = PARITY_TOLERANCE

    @property
    def max_abs_diff(self) -> float:
        """Largest difference over all checks."""
        return max([d for _, _, d in self.rows] + [self.stats_path_diff])

    @property
    def passed(self) -> bool:
        """True when every difference is below ``tolerance``."""
        return self.max_abs_diff < self.tolerance

    def format(self) -> str:
        """Human-readable table of the differences."""
        lines = ["ONNX parity vs PyTorch (fp32, max |diff| on outputs in [-1, 1]):"]
        lines += [f"  {h:>5} x {w:<5} {d:.2e}" for h, w, d in self.rows]
        lines.append(f"  external norm stats (tile path): {self.stats_path_diff:.2e}")
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"  {verdict}: max {self.max_abs_diff:.2e} (tolerance {self.tolerance:.0e})")
        return "\n".join(lines)


def check_parity(
    generator: nn.Module,
    onnx_path: str | os.PathLike[str],
    *,
    sizes: Sequence[tuple[int, int]] = DEFAULT_PARITY_SIZES,
    batch: int = 2,
    seed: int = 0,
    tolerance: float = PARITY_TOLERANCE,
    threads: int | None = None,
) -> ParityReport:
    """Compare an exported model with the PyTorch generator on random inputs.

    Args:
        generator: the generator that was exported.
        onnx_path: the exported fp32 model.
        sizes: ``(height, width)`` pairs to check, each >= 8.
        batch: batch size of every check (also checks the dynamic batch axis).
        seed: seed of the local random generator for the inputs (no global state is touched).
        tolerance: bound on the max absolute difference.
        threads: onnxruntime intra-op threads.

    Returns:
        :class:`ParityReport`.
    """
    import onnxruntime as ort

    options = ort_session_options(intra_op_threads=threads)
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    model = NormStatsGenerator(generator).to("cpu").float().eval()
    rng = torch.Generator().manual_seed(seed)
    report = ParityReport(tolerance=tolerance)
    zeros_stats = torch.zeros(1, model.num_norms, 2)
    for height, width in sizes:
        photo = torch.rand(batch, 3, height, width, generator=rng) * 2 - 1
        with torch.inference_mode():
            expected = generator.to("cpu").float()(photo).numpy()
        (got,) = session.run([OUTPUT_NAME], {PHOTO_INPUT: photo.numpy()})
        report.rows.append((height, width, float(np.abs(expected - got).max())))
    # The tile path: statistics from a different (whole-image) input, mixed in fully.
    whole = torch.rand(1, 3, 72, 88, generator=rng) * 2 - 1
    tile = torch.rand(batch, 3, 41, 57, generator=rng) * 2 - 1
    with torch.inference_mode():
        _, stats = model(whole, zeros_stats, torch.zeros(1))
        expected, _ = model(tile, stats, torch.ones(1))
    (got,) = session.run(
        [OUTPUT_NAME],
        {
            PHOTO_INPUT: tile.numpy(),
            NORM_STATS_INPUT: stats.numpy(),
            NORM_MIX_INPUT: np.ones(1, np.float32),
        },
    )
    report.stats_path_diff = float(np.abs(expected.numpy() - got).max())
    return report
