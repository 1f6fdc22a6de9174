"""Stylisation of photos of any size: tiling, backends, post-processing and file handling."""

from __future__ import annotations

from animegan.inference.backends import OnnxBackend, StylizeBackend, TorchBackend
from animegan.inference.image_io import (
    DecodedImage,
    InputItem,
    collect_inputs,
    read_photo,
    write_image,
)
from animegan.inference.norm_stats import NormStatsGenerator
from animegan.inference.pipeline import BatchReport, Stylizer, build_backend, stylize_files
from animegan.inference.postprocess import (
    PostProcess,
    apply_postprocess,
    bilateral_smooth,
    blend_strength,
    gray_world_white_balance,
    match_brightness,
    mean_luma,
    unsharp_mask,
)
from animegan.inference.tiling import blend_window, plan_tiles, tile_starts, tiled_apply

__all__ = [
    "BatchReport",
    "DecodedImage",
    "InputItem",
    "NormStatsGenerator",
    "OnnxBackend",
    "PostProcess",
    "StylizeBackend",
    "Stylizer",
    "TorchBackend",
    "apply_postprocess",
    "bilateral_smooth",
    "blend_strength",
    "blend_window",
    "build_backend",
    "collect_inputs",
    "gray_world_white_balance",
    "match_brightness",
    "mean_luma",
    "plan_tiles",
    "read_photo",
    "stylize_files",
    "tile_starts",
    "tiled_apply",
    "unsharp_mask",
    "write_image",
]
