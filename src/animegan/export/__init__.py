"""Deployment: ONNX export with a parity check, INT8 quantization, weight-format conversion.

onnx/onnxruntime are imported inside the functions that need them.
"""

from __future__ import annotations

from animegan.export.onnx import ParityReport, check_parity, export_onnx
from animegan.export.quantize import (
    PhotoCalibrationReader,
    QualityReport,
    measure_quality,
    quantize_int8,
    streamline_qdq,
)
from animegan.export.weights import RoundTripReport, export_pt, import_pt, verify_pt

__all__ = [
    "ParityReport",
    "PhotoCalibrationReader",
    "QualityReport",
    "RoundTripReport",
    "check_parity",
    "export_onnx",
    "export_pt",
    "import_pt",
    "measure_quality",
    "quantize_int8",
    "streamline_qdq",
    "verify_pt",
]
