"""Evaluation-throughput benchmark: images/s for stylize + every metric, as `make eval` runs it.

Runs the real :class:`animegan.evaluation.Evaluator` on JPEG files written to a temporary folder
(decode, resize + center crop, AnimeGANv2 generator, 8-bit quantisation, FID/KID features, content
LPIPS, diversity LPIPS, FID/KID math) and times three passes over the same photos:

* ``stylize_only``: decode + generator, no metric network (the floor);
* ``cold``: every metric, reference features computed (first evaluation of a dataset);
* ``warm``: every metric, reference features from the on-disk cache (every later evaluation).

Networks have the real architectures; weights are the real ones when they are in the torch cache
and random otherwise (same cost, values meaningless; the JSON says which). The generator has random
weights (same cost as a trained one).

    python benchmarks/bench_eval.py                                   # CPU, 32 photos at 256²
    python benchmarks/bench_eval.py --device cuda --num-photos 1000 --num-workers 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from animegan.evaluation import (
    Evaluator,
    InceptionFeatures,
    LPIPSNetwork,
    inception_cache_path,
    lpips_backbone_cache_path,
)
from animegan.models import Generator


def write_jpegs(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    """Smooth random colour fields (JPEG-compressible like photos), a bit larger than ``size``."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        coarse = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((size * 5 // 4, size), Image.BICUBIC)
        paths.append(folder / f"{index:05d}.jpg")
        image.save(paths[-1], quality=90)
    return paths


def timed(device: torch.device, function) -> tuple[float, object]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    result = function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--num-photos", type=int, default=32)
    parser.add_argument("--num-reference", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_float32_matmul_precision("high")  # as cli/eval.py

    real_inception = inception_cache_path().is_file()
    real_lpips = lpips_backbone_cache_path("alex").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fid_features = InceptionFeatures(random_weights=not real_inception, allow_download=False)
        lpips = LPIPSNetwork(backbone="imagenet" if real_lpips else "random", allow_download=False)
    torch.manual_seed(0)
    generator = Generator().to(device).eval()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        photos = write_jpegs(tmp_path / "photos", args.num_photos, args.size, seed=0)
        references = write_jpegs(tmp_path / "anime", args.num_reference, args.size, seed=1)
        common = {
            "image_size": args.size,
            "batch_size": args.batch_size,
            "num_workers": args.num_workers,
            "num_grid_images": 8,
        }
        stylize_only = Evaluator(**common)
        full = Evaluator(
            **common,
            fid_features=fid_features,
            kid_subsets=args.kid_subsets,
            lpips=lpips,
            diversity_images=32,
            cache_dir=tmp_path / "cache",
        )
        # Warm-up (allocator, cuDNN autotuning, first-call overheads) on a few photos.
        stylize_only.evaluate(generator, photos[:2], device=device)
        seconds = {}
        seconds["stylize_only"], _ = timed(
            device, lambda: stylize_only.evaluate(generator, photos, device=device)
        )
        seconds["cold"], cold = timed(
            device, lambda: full.evaluate(generator, photos, references, device=device)
        )
        seconds["warm"], warm = timed(
            device, lambda: full.evaluate(generator, photos, references, device=device)
        )
    assert cold.info["reference_cache_hit"] is False and warm.info["reference_cache_hit"] is True

    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    )
    report = {
        "benchmark": "bench_eval",
        "date": date.today().isoformat(),
        "device": args.device,
        "device_name": device_name or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0],
        "torch": torch.__version__,
        "image_size": args.size,
        "num_photos": args.num_photos,
        "num_reference": args.num_reference,
        "batch_size": args.batch_size,
        "num_workers": args.num_workers,
        "kid_subsets": args.kid_subsets,
        "weights": {
            "inception": "real" if real_inception else "random (same architecture and cost)",
            "lpips_alex": "real" if real_lpips else "random (same architecture and cost)",
            "generator": "random (same architecture and cost)",
        },
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "images_per_second": {
            "stylize_only": round(args.num_photos / seconds["stylize_only"], 3),
            "all_metrics_warm_cache": round(args.num_photos / seconds["warm"], 3),
            "all_metrics_cold_cache": round(
                (args.num_photos + args.num_reference) / seconds["cold"], 3
            ),
        },
        "seconds_per_1000_photos_warm": round(1000 * seconds["warm"] / args.num_photos, 1),
        "metrics_computed": sorted(warm.metrics),
    }
    out = args.out or Path(__file__).parent / "results" / f"eval_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
