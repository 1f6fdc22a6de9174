"""INT8 static quantization (QDQ, per-channel) of the exported generator, and its quality cost.

onnxruntime's ``quantize_static`` inserts QuantizeLinear/DequantizeLinear pairs around the
convolutions; onnxruntime then runs them as integer convolutions. Activation ranges come from a
calibration pass over real photos (:class:`PhotoCalibrationReader`); dynamic quantization would
be the wrong tool for convolutions. The layer norms, pads, resizes and activations stay fp32.
Quality is measured against the fp32 PyTorch generator as PSNR on uint8 outputs (and LPIPS
when its weights are already on disk; nothing is downloaded). Finding the convolutions to keep
fp32 and tidying the quantized graph are ONNX graph surgery, in :mod:`animegan.export.onnx_graph`.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from animegan.data.decode import ImageDecodeError, read_image_rgb
from animegan.data.scan import scan_image_folder, warn_skipped
from animegan.export.onnx_graph import conv_nodes_of_layers, edge_conv_nodes, streamline_qdq
from animegan.inference.backends import PHOTO_INPUT, StylizeBackend
from animegan.inference.pipeline import output_to_uint8, photo_to_input

__all__ = [
    "CALIBRATE_METHODS",
    "DEFAULT_FP32_LAYERS",
    "PhotoCalibrationReader",
    "QualityReport",
    "conv_nodes_of_layers",
    "edge_conv_nodes",
    "list_photos",
    "load_square_photo",
    "lpips_weights_path",
    "mean_squared_error",
    "measure_quality",
    "psnr",
    "psnr_from_mse",
    "quantize_int8",
    "streamline_qdq",
]

log = logging.getLogger(__name__)

CALIBRATE_METHODS = ("minmax", "entropy", "percentile")
# Generator layers whose convolutions stay fp32 by default: the first conv sees raw pixels and
# the last one writes them; both are cheap (about 3% of the FLOPs) and quantizing them costs
# the most PSNR. These are the full generator's names; `fp32_layers=None` finds the same two
# convs in any exported generator (the lite one's are `stem` and `out_layer`).
DEFAULT_FP32_LAYERS: tuple[str, ...] = ("block_a.0", "out_layer")


def list_photos(folder: str | os.PathLike[str], limit: int | None = None) -> list[Path]:
    """The decodable images of a folder (judged by content, sorted), at most ``limit`` of them.

    Files that do not decode are left out with one warning naming them (the folder is listed
    by :func:`animegan.data.scan.scan_image_folder`, without a cache).

    Raises:
        FileNotFoundError: the folder does not exist or holds no decodable image.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"calibration folder {folder} does not exist; pass --calib DIR with real photos "
            f"(a few dozen, like the ones you will stylise)."
        )
    scan = scan_image_folder(folder, cache_dir=None, role="calibration photos")
    warn_skipped(scan.skipped, log, left_out_of="calibration")
    paths = list(scan.paths)
    return paths[:limit] if limit is not None else paths


def load_square_photo(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """Decode a photo, resize its shorter side to ``size`` (area) and centre-crop a square.

    Args:
        path: image file.
        size: output side in pixels.

    Returns:
        ``[size, size, 3]`` uint8 RGB.
    """
    image = read_image_rgb(path, min_size=size)
    height, width = image.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return np.ascontiguousarray(image[top : top + size, left : left + size])


class PhotoCalibrationReader:
    """onnxruntime ``CalibrationDataReader`` over real photos, one ``[1, 3, s, s]`` per call.

    Unreadable files are skipped with a warning.

    Args:
        paths: photo files.
        size: square side the photos are resized and cropped to.
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]], size: int = 256) -> None:
        self.paths = [Path(p) for p in paths]
        self.size = size
        self._iter: Iterator[dict[str, np.ndarray]] | None = None

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        for path in self.paths:
            try:
                photo = load_square_photo(path, self.size)
            except ImageDecodeError as error:
                log.warning("calibration: skipped %s", error)
                continue
            yield {PHOTO_INPUT: photo_to_input(photo)}

    def get_next(self) -> dict[str, np.ndarray] | None:
        """Next input feed, or ``None`` when the photos are used up."""
        if self._iter is None:
            self._iter = self._batches()
        return next(self._iter, None)

    def rewind(self) -> None:
        """Start again from the first photo."""
        self._iter = None


def quantize_int8(
    fp32_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    calibration_photos: Sequence[str | os.PathLike[str]],
    *,
    calibration_size: int = 256,
    fp32_layers: Sequence[str] | None = None,
    calibrate_method: str = "minmax",
    per_channel: bool = True,
    reduce_range: bool = False,
    quantize_ops: Sequence[str] = ("Conv",),
    preprocess: bool = True,
    streamline: bool = True,
) -> Path:
    """Quantize an exported fp32 model to INT8 (static, QDQ, per-channel weights).

    Args:
        fp32_path: model written by :func:`animegan.export.onnx.export_onnx`.
        int8_path: output ``.onnx`` file.
        calibration_photos: real photos for activation ranges (32 is plenty).
        calibration_size: side the calibration photos are resized/cropped to.
        fp32_layers: generator layers whose convolutions stay fp32
            (:func:`conv_nodes_of_layers` names); ``None`` keeps the first and the last conv
            (:func:`edge_conv_nodes`, ``DEFAULT_FP32_LAYERS`` in the full generator); empty
            quantizes every conv.
        calibrate_method: ``"minmax"``, ``"entropy"`` or ``"percentile"``.
        per_channel: one weight scale per output channel (else per tensor).
        reduce_range: 7-bit weights; avoids int16 saturation of u8s8 products on x86 CPUs
            without VNNI at some accuracy cost.
        quantize_ops: ONNX op types that get INT8 inputs/outputs. ``"Conv"`` is where the
            time goes; adding ``"LeakyRelu"`` and ``"Pad"`` moves the activations and the
            reflection pads to uint8 too (less memory traffic, one more rounding).
        preprocess: run onnxruntime's quantization pre-processing (shape inference and graph
            clean-up) first, as its documentation recommends.
        streamline: apply :func:`streamline_qdq` (same outputs, faster).

    Returns:
        The INT8 model path. Inputs and outputs are unchanged (fp32), sizes stay dynamic.
    """
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if calibrate_method not in methods:
        raise ValueError(f"calibrate_method must be one of {CALIBRATE_METHODS}")
    if not calibration_photos:
        raise ValueError("INT8 calibration needs at least one photo")
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    if fp32_layers is None:
        excluded = edge_conv_nodes(fp32_path)
    else:
        excluded = conv_nodes_of_layers(fp32_path, fp32_layers) if fp32_layers else []
    with tempfile.TemporaryDirectory(prefix="animegan-quant-") as tmp:
        source = fp32_path
        if preprocess:
            from onnxruntime.quantization.shape_inference import quant_pre_process

            source = Path(tmp) / "preprocessed.onnx"
            quant_pre_process(str(fp32_path), str(source), skip_symbolic_shape=True)
        quantize_static(
            str(source),
            str(int8_path),
            PhotoCalibrationReader(calibration_photos, calibration_size),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(quantize_ops),
            nodes_to_exclude=excluded,
            calibrate_method=methods[calibrate_method],
            calibration_providers=["CPUExecutionProvider"],
        )
    if streamline:
        log.info("streamlined QDQ graph: %s", streamline_qdq(int8_path))
    return int8_path


def mean_squared_error(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean squared difference of two uint8 images (uint8 units squared, 0..65025)."""
    return float(np.mean((reference.astype(np.float64) - candidate.astype(np.float64)) ** 2))


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error of uint8 images (peak 255; ``inf`` for 0)."""
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def psnr(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images in dB (peak 255; ``inf`` if equal)."""
    return psnr_from_mse(mean_squared_error(reference, candidate))


def lpips_weights_path() -> Path:
    """Where torchvision keeps the AlexNet weights LPIPS needs (``$TORCH_HOME/hub/checkpoints``)."""
    from animegan.evaluation.lpips import lpips_backbone_cache_path

    return lpips_backbone_cache_path("alex")


@dataclass(frozen=True)
class QualityReport:
    """Quality of a backend's outputs against a reference backend.

    Attributes:
        psnr_mean_db: PSNR of the mean squared error over all images (dB, uint8 outputs).
        psnr_min_db: worst image's PSNR.
        lpips_mean: mean LPIPS (AlexNet), or ``None`` when its weights are not on disk.
        num_images: photos compared.
        size: square side they were compared at.
    """

    psnr_mean_db: float
    psnr_min_db: float
    lpips_mean: float | None
    num_images: int
    size: int

    def format(self) -> str:
        """One-line summary."""
        lpips = (
            f"LPIPS {self.lpips_mean:.4f}"
            if self.lpips_mean is not None
            else (f"LPIPS skipped (no weights at {lpips_weights_path()})")
        )
        return (
            f"PSNR {self.psnr_mean_db:.2f} dB mean, {self.psnr_min_db:.2f} dB worst, {lpips} "
            f"({self.num_images} photos at {self.size}x{self.size})"
        )


def _lpips_metric():  # -> torchmetrics LPIPS or None
    if not lpips_weights_path().is_file():
        return None
    try:
        from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

        return LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True).eval()
    except Exception as error:  # noqa: BLE001 - LPIPS is optional; PSNR is still reported
        log.warning("LPIPS unavailable: %s", error)
        return None


def measure_quality(
    reference: StylizeBackend,
    candidate: StylizeBackend,
    photos: Sequence[str | os.PathLike[str]],
    *,
    size: int = 256,
) -> QualityReport:
    """Compare two backends' outputs on real photos.

    Args:
        reference: usually the fp32 PyTorch generator (:class:`TorchBackend`).
        candidate: e.g. the INT8 onnxruntime model.
        photos: photo files (resized/cropped to ``size`` squares).
        size: comparison side in pixels.

    Returns:
        :class:`QualityReport`.
    """
    import torch

    metric = _lpips_metric()
    errors: list[float] = []  # per image, uint8 units squared
    lpips_values: list[float] = []
    for path in photos:
        photo_input = photo_to_input(load_square_photo(path, size))
        ref_out, _ = reference(photo_input)
        cand_out, _ = candidate(photo_input)
        ref_u8 = output_to_uint8(ref_out[0].transpose(1, 2, 0))
        cand_u8 = output_to_uint8(cand_out[0].transpose(1, 2, 0))
        errors.append(mean_squared_error(ref_u8, cand_u8))
        if metric is not None:
            with torch.inference_mode():
                value = metric(
                    torch.from_numpy(np.clip((cand_out + 1) / 2, 0, 1)),
                    torch.from_numpy(np.clip((ref_out + 1) / 2, 0, 1)),
                )
            lpips_values.append(float(value))
    if not errors:
        raise ValueError("no photo to compare")
    # Pooled over all images: the PSNR of the mean squared error, not a mean of dB values,
    # so one identical image (infinite PSNR) cannot make the mean infinite.
    return QualityReport(
        psnr_mean_db=psnr_from_mse(float(np.mean(errors))),
        psnr_min_db=psnr_from_mse(max(errors)),
        lpips_mean=float(np.mean(lpips_values)) if lpips_values else None,
        num_images=len(errors),
        size=size,
    )
