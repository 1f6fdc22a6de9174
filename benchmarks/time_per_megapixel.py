"""Stylize time per megapixel through onnxruntime fp32 (tiling pipeline, random weights).

Usage: PYTHONPATH=src python benchmarks/time_per_megapixel.py [RUNS]  (default 3; prints JSON:
per-run seconds, median, seconds per megapixel, load average). 1536x1024 photo, 2 threads.
"""

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from animegan.export import export_onnx
from animegan.inference import OnnxBackend, Stylizer
from animegan.models import Generator

torch.manual_seed(0)
path = export_onnx(Generator().eval(), str(Path(tempfile.mkdtemp()) / "bench.onnx"))
stylizer = Stylizer(OnnxBackend(path, intra_op_threads=2))
h, w = 1024, 1536
rng = np.random.default_rng(0)
photo = (rng.uniform(0, 255, (h // 8, w // 8, 3))).astype(np.uint8).repeat(8, 0).repeat(8, 1)
stylizer(photo)  # warm-up
times = []
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
    start = time.perf_counter()
    stylizer(photo)
    times.append(time.perf_counter() - start)
mp = h * w / 1e6
print(
    json.dumps(
        {
            "size": [w, h],
            "megapixels": mp,
            "times_s": times,
            "median_s": statistics.median(times),
            "s_per_mp": statistics.median(times) / mp,
            "load": os.getloadavg(),
        }
    )
)
