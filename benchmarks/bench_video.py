"""Video benchmark: temporal stability (per-frame vs smoothed statistics) and frames/s.

A clip is synthesised from a photo of ../shared/data/scenes with a known camera motion (a
pan plus a slow zoom, as affine maps), so the true motion between frames is known exactly.
For the stylised frames it reports

- warping error: mean |out_t - warp(out_{t-1})| over the pixels both frames see, the
  previous output warped by the known motion (uint8 levels, 0..255; lower = steadier);
- per-pixel change: mean |out_t - out_{t-1}| (uint8 levels);
- the same two numbers for the input frames (the floor set by resampling the photo);

for per-frame statistics and for ``--temporal-smoothing``, and frames/s at 720p on this
machine's CPU cores with onnxruntime fp32 and static INT8 (calibrated on the scene photos),
both with and without smoothing (and torch on CUDA when a GPU is present).

Without --weights the generator has random weights (seed 0): the stability numbers then say how
the statistics machinery behaves, not how a trained style looks. Writes
benchmarks/results/video.json.

    python benchmarks/bench_video.py [--weights paprika] [--frames 24] [--size 384x216]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from animegan.inference import OnnxBackend, Stylizer, TorchBackend
from animegan.inference.temporal import TemporalNormSmoother, VideoFrameStylizer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "video.json"
DEFAULT_SCENES = ROOT.parent / "shared" / "data" / "scenes"


def camera(t: int, width: int, height: int, source_shape: tuple[int, int]) -> np.ndarray:
    """2x3 affine map from frame-t pixels to source-photo pixels: pan right, zoom in."""
    src_h, src_w = source_shape
    base = min(src_w / width, src_h / height) * 0.8  # the frame sees 80 % of the photo
    scale = base / (1.0 + 0.004 * t)  # zoom in 0.4 % per frame
    x0 = 0.05 * src_w + 2.0 * t * base  # pan 2 output pixels per frame
    y0 = 0.1 * src_h + 0.5 * t * base
    return np.array([[scale, 0, x0], [0, scale, y0]], dtype=np.float64)


def synth_clip(photo: np.ndarray, frames: int, width: int, height: int) -> list[np.ndarray]:
    """Frames of the photo seen through :func:`camera`."""
    return [
        cv2.warpAffine(photo, camera(t, width, height, photo.shape[:2]), (width, height),
                       flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        for t in range(frames)
    ]  # fmt: skip


def previous_to_current(t: int, width: int, height: int, shape: tuple[int, int]) -> np.ndarray:
    """Affine map from frame-t pixels to frame-(t-1) pixels (the known motion)."""
    to_src_t = np.vstack([camera(t, width, height, shape), [0, 0, 1]])
    to_src_prev = np.vstack([camera(t - 1, width, height, shape), [0, 0, 1]])
    return (np.linalg.inv(to_src_prev) @ to_src_t)[:2]


def stability(frames: list[np.ndarray], shape: tuple[int, int]) -> dict[str, float]:
    """Warping error and per-pixel change of a frame sequence (uint8 levels)."""
    height, width = frames[0].shape[:2]
    warp_errors, changes = [], []
    for t in range(1, len(frames)):
        motion = previous_to_current(t, width, height, shape)
        warped = cv2.warpAffine(frames[t - 1], motion, (width, height),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)  # fmt: skip
        valid = cv2.warpAffine(np.ones((height, width), np.uint8), motion, (width, height),
                               flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0  # fmt: skip
        valid = cv2.erode(valid.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        diff = np.abs(frames[t].astype(np.float32) - warped)
        warp_errors.append(float(diff[valid].mean()))
        changes.append(float(np.abs(frames[t].astype(np.float32) - frames[t - 1]).mean()))
    return {"warping_error": float(np.mean(warp_errors)), "pixel_change": float(np.mean(changes))}


def run(stylizer: Stylizer, frames: list[np.ndarray], smoothing: bool, batch: int):
    """Stylise frames in batches; returns (outputs, frames/s)."""
    video = VideoFrameStylizer(stylizer, TemporalNormSmoother() if smoothing else None)
    outputs: list[np.ndarray] = []
    start = time.perf_counter()
    for i in range(0, len(frames), batch):
        outputs += video(frames[i : i + batch])
    return outputs, len(frames) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="generator (.pt/.ckpt/name); default random")
    parser.add_argument("--scenes", type=Path, default=DEFAULT_SCENES)
    parser.add_argument("--frames", type=int, default=24, help="frames of the stability clip")
    parser.add_argument("--size", default="384x216", help="WxH of the stability clip")
    parser.add_argument("--speed-frames", type=int, default=4, help="720p frames timed per run")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    photos = sorted(p for p in args.scenes.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    if not photos:
        raise SystemExit(f"error: no photos in {args.scenes}; pass --scenes DIR")
    photo = cv2.cvtColor(cv2.imread(str(photos[0])), cv2.COLOR_BGR2RGB)
    if args.threads:
        torch.set_num_threads(args.threads)
    from animegan.export.onnx import export_onnx
    from animegan.export.quantize import quantize_int8
    from animegan.models import Generator, load_generator
    from animegan.models.registry import resolve_weights

    if args.weights:
        generator, weights_note = load_generator(resolve_weights(args.weights)), str(args.weights)
    else:
        torch.manual_seed(0)
        generator, weights_note = Generator().eval(), "random (seed 0): not a trained style"
    width, height = (int(v) for v in args.size.lower().split("x"))
    clip = synth_clip(photo, args.frames, width, height)
    result: dict[str, object] = {
        "weights": weights_note,
        "clip": {"source": photos[0].name, "frames": args.frames, "size": [width, height],
                 "motion": "pan 2 px/frame right + 0.5 px/frame down, zoom in 0.4 %/frame"},
        "machine": {"cpu_threads": args.threads or os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_start": os.getloadavg()[0],
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "input": stability(clip, photo.shape[:2]),
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(generator, Path(tmp) / "g.onnx")
        int8 = quantize_int8(fp32, Path(tmp) / "g.int8.onnx", photos[1:9], calibration_size=256)
        backends = {
            "onnx_fp32": OnnxBackend(fp32, intra_op_threads=args.threads),
            "onnx_int8": OnnxBackend(int8, intra_op_threads=args.threads),
        }
        if torch.cuda.is_available():
            backends["torch_cuda"] = TorchBackend(generator, device="cuda")
        stylizer = Stylizer(backends["onnx_fp32"], tile=512, overlap=64)
        quality = {}
        for smoothing in (False, True):
            outputs, fps = run(stylizer, clip, smoothing, args.batch)
            quality["smoothed" if smoothing else "per_frame"] = {
                **stability(outputs, photo.shape[:2]), "frames_per_s": fps}
            print("smoothed" if smoothing else "per_frame", quality)
        result["stability_onnx_fp32"] = quality
        hd = synth_clip(photo, args.speed_frames, 1280, 720)
        speed = {}
        for name, backend in backends.items():
            # 720p fits in one 1280-pixel tile: one generator call per frame, batched.
            hd_stylizer = Stylizer(backend, tile=1280, overlap=64)
            run(hd_stylizer, hd[:1], False, 1)  # warm-up
            for smoothing in (False, True):
                _, fps = run(hd_stylizer, hd, smoothing, args.batch)
                speed[f"{name}{'_smoothed' if smoothing else ''}"] = fps
                print(name, smoothing, f"{fps:.3f} frames/s")
        result["frames_per_s_720p"] = speed
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
