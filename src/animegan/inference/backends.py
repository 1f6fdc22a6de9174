"""Execution backends: the same generator call on PyTorch (CPU/GPU) or onnxruntime.

A backend maps a batch of photos ``[B, 3, H, W]`` float32 in [-1, 1] (NCHW, RGB) to stylised
images of the same shape and range. Backends that support it also return each photo's
layer-norm statistics and accept statistics to use instead (see
:mod:`animegan.inference.norm_stats`), which is what keeps tiles of one image consistent.
onnxruntime is imported only when an ONNX backend is built.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from animegan.inference.norm_stats import NormStatsGenerator

__all__ = [
    "NORM_MIX_INPUT",
    "NORM_STATS_INPUT",
    "NORM_STATS_OUTPUT",
    "OUTPUT_NAME",
    "PHOTO_INPUT",
    "GRAPH_OPTIMIZATION_LEVELS",
    "OnnxBackend",
    "StylizeBackend",
    "TorchBackend",
    "ort_session_options",
]

log = logging.getLogger(__name__)

# Geometry of the full generator; generators that differ carry `min_side`/`tile_align`
# attributes (GeneratorLite) and exported models the metadata keys below.
DEFAULT_MIN_SIDE, DEFAULT_TILE_ALIGN = 8, 4
MIN_SIDE_METADATA, TILE_ALIGN_METADATA = "animegan.min_side", "animegan.tile_align"

# Names of the ONNX graph's inputs and outputs (written by animegan.export.onnx).
PHOTO_INPUT = "photo"
NORM_STATS_INPUT = "norm_stats"
NORM_MIX_INPUT = "norm_mix"
OUTPUT_NAME = "fake_anime"
NORM_STATS_OUTPUT = "photo_norm_stats"

GRAPH_OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")


class StylizeBackend(Protocol):
    """What the stylisation pipeline needs from a backend.

    ``min_side`` (smallest input side) and ``tile_align`` (encoder stride: tile origins are
    multiples of it) describe the generator: 8 and 4 for the full AnimeGANv2 generator, 16 and
    8 for the lite one.
    """

    name: str
    supports_norm_stats: bool
    min_side: int
    tile_align: int

    def __call__(
        self,
        photo: np.ndarray,
        norm_stats: np.ndarray | None = None,
        *,
        return_stats: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Stylise a batch.

        Args:
            photo: ``[B, 3, H, W]`` float32 RGB in [-1, 1].
            norm_stats: ``[1 or B, L, 2]`` float32 layer-norm statistics to use instead of each
                photo's own, or ``None``.
            return_stats: whether the caller needs ``photo_norm_stats`` (a backend may skip
                computing them otherwise and return ``None``).

        Returns:
            ``(fake_anime [B, 3, H, W] float32 in [-1, 1], photo_norm_stats [B, L, 2] or None)``.
        """
        ...


class TorchBackend:
    """Run a generator with PyTorch.

    Args:
        generator: AnimeGANv2 generator (copied; the caller's module is not changed).
        device: where to run, e.g. ``"cpu"`` or ``"cuda"``.
    """

    name = "torch"
    supports_norm_stats = True

    def __init__(self, generator: nn.Module, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = NormStatsGenerator(generator).to(self.device).eval()
        # A second, plain copy: the plain generator's native GroupNorm
        # was ~9% faster at 512^2 on CPU, so calls that need no statistics use it.
        self.generator = _plain_copy(generator, self.device)
        self.num_norms = self.model.num_norms
        self.min_side = int(getattr(generator, "min_side", DEFAULT_MIN_SIDE))
        self.tile_align = int(getattr(generator, "tile_align", DEFAULT_TILE_ALIGN))

    @torch.inference_mode()
    def __call__(
        self,
        photo: np.ndarray,
        norm_stats: np.ndarray | None = None,
        *,
        return_stats: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """See :class:`StylizeBackend`."""
        photo_t = torch.from_numpy(np.ascontiguousarray(photo, dtype=np.float32)).to(self.device)
        if norm_stats is None and not return_stats:
            return self.generator(photo_t).float().cpu().numpy(), None
        if norm_stats is None:
            stats_t = torch.zeros(1, self.num_norms, 2, device=self.device)
            mix = torch.zeros(1, device=self.device)
        else:
            stats_t = torch.from_numpy(np.asarray(norm_stats, dtype=np.float32)).to(self.device)
            mix = torch.ones(1, device=self.device)
        fake_anime, photo_norm_stats = self.model(photo_t, stats_t, mix)
        return fake_anime.float().cpu().numpy(), photo_norm_stats.float().cpu().numpy()


def _plain_copy(generator: nn.Module, device: torch.device) -> nn.Module:
    import copy

    return copy.deepcopy(generator).to(device).eval()


def ort_session_options(
    *, intra_op_threads: int | None = None, graph_optimization_level: str = "all"
):  # -> onnxruntime.SessionOptions
    """Session options of onnxruntime, used everywhere in this package.

    Args:
        intra_op_threads: threads per operator; ``None`` = onnxruntime's default (all cores).
        graph_optimization_level: ``"disable"``, ``"basic"``, ``"extended"`` or ``"all"``.

    Returns:
        ``onnxruntime.SessionOptions``. Log severity is "error": the exported model keeps
        default values for its optional inputs, which onnxruntime would warn about on every
        session although it is intended.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = _ort_level(graph_optimization_level)
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    options.log_severity_level = 3
    return options


def _ort_level(name: str):  # -> onnxruntime.GraphOptimizationLevel
    import onnxruntime as ort

    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if name not in levels:
        raise ValueError(f"graph optimisation level must be one of {sorted(levels)}, got {name!r}")
    return levels[name]


class OnnxBackend:
    """Run an exported generator (fp32 or INT8) with onnxruntime.

    Models written by :func:`animegan.export.onnx.export_onnx` take external layer-norm
    statistics; a plain single-input model also works, with per-tile statistics (tiles of a
    large image then differ more; a warning says so once).

    Args:
        model_path: ``.onnx`` file.
        intra_op_threads: threads per operator; ``None`` lets onnxruntime choose (all cores).
        graph_optimization_level: ``"disable"``, ``"basic"``, ``"extended"`` or ``"all"``.
        providers: onnxruntime execution providers; default CPU only.
    """

    name = "onnx"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        intra_op_threads: int | None = None,
        graph_optimization_level: str = "all",
        providers: list[str] | None = None,
    ) -> None:
        import onnxruntime as ort

        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(
                f"ONNX model {self.model_path} does not exist; write one with "
                f"`animegan export --weights FILE --out {self.model_path}`."
            )
        options = ort_session_options(
            intra_op_threads=intra_op_threads, graph_optimization_level=graph_optimization_level
        )
        self.session = ort.InferenceSession(
            str(self.model_path), options, providers=providers or ["CPUExecutionProvider"]
        )
        # Inputs with a default value stored in the file are listed apart from the others.
        inputs = {
            i.name: i
            for i in [*self.session.get_inputs(), *self.session.get_overridable_initializers()]
        }
        outputs = [o.name for o in self.session.get_outputs()]
        if PHOTO_INPUT not in inputs:
            raise ValueError(
                f"{self.model_path} has inputs {sorted(inputs)}, expected {PHOTO_INPUT!r}; "
                f"export it with `animegan export`."
            )
        self.supports_norm_stats = (
            NORM_STATS_INPUT in inputs and NORM_MIX_INPUT in inputs and NORM_STATS_OUTPUT in outputs
        )
        self.num_norms: int | None = None
        if self.supports_norm_stats:
            self.num_norms = int(inputs[NORM_STATS_INPUT].shape[1])
        self._output_names = [outputs[0]] + (
            [NORM_STATS_OUTPUT] if self.supports_norm_stats else []
        )
        # Written by `animegan export`; a model without them is taken for the full generator.
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.min_side = int(metadata.get(MIN_SIDE_METADATA, DEFAULT_MIN_SIDE))
        self.tile_align = int(metadata.get(TILE_ALIGN_METADATA, DEFAULT_TILE_ALIGN))

    def __call__(
        self,
        photo: np.ndarray,
        norm_stats: np.ndarray | None = None,
        *,
        return_stats: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """See :class:`StylizeBackend`."""
        feeds = {PHOTO_INPUT: np.ascontiguousarray(photo, dtype=np.float32)}
        if self.supports_norm_stats and norm_stats is not None:
            feeds[NORM_STATS_INPUT] = np.ascontiguousarray(norm_stats, dtype=np.float32)
            feeds[NORM_MIX_INPUT] = np.ones(1, dtype=np.float32)
        names = self._output_names if return_stats else self._output_names[:1]
        results = self.session.run(names, feeds)
        return results[0], (results[1] if len(results) > 1 else None)
