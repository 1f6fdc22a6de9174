"""Where does a training step's time go? Self time of one step by kind of work, from torch.profiler.

Profiles the hand-written step of ``bench_train.py`` with the levers given on the command line
(by default the structure of our module: one shared G forward, D's inputs in one call, VGG
targets without autograd) and groups every ATen op's *self* time (device time on CUDA, CPU time
otherwise) into the categories the issue asks about:

* ``conv dense`` / ``conv depthwise`` (weights of shape [C, 1, k, k]), forward and backward;
* ``group norm`` (the discriminator's and generator's layer norms), ``padding`` (the generator's
  reflection padding), ``activations`` (LeakyReLU,
  ReLU, tanh and their backward), ``spectral norm`` (the power iteration's ``mv``/``dot``),
  ``gram / matmul`` (style loss), ``optimizer`` (Adam's for-each or fused kernels),
  ``copies / layout`` (``copy_``, ``to``, ``contiguous``: memory-format and dtype conversions),
  ``elementwise / other``;
* on CUDA also ``idle (launch gaps)``: the step's wall time not covered by any kernel.

Prints a table and writes JSON (``--out``).

    python benchmarks/profile_step.py --device cuda --batch-size 32 --size 256 --bf16 --channels-last
    python benchmarks/profile_step.py --device cpu --batch-size 4 --size 64          # CPU figures
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import HandStep, Levers, _device_name, _sync, synthetic_batch  # noqa: E402

# Op-name fragments per category, tried in this order (first match wins).
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("group norm", ("group_norm", "layer_norm")),
    ("padding", ("reflection_pad", "replication_pad", "constant_pad")),
    ("activations", ("leaky_relu", "relu", "tanh", "sigmoid")),
    ("spectral norm", ("aten::mv", "aten::dot", "aten::linalg_vector_norm")),
    ("gram / matmul", ("aten::bmm", "aten::mm", "aten::matmul", "aten::addmm", "aten::baddbmm")),
    ("optimizer", ("_foreach_", "_fused_adam", "aten::lerp", "aten::addcdiv", "aten::addcmul")),
    (
        "copies / layout",
        ("aten::copy_", "aten::to", "aten::contiguous", "aten::clone", "aten::_to_copy"),
    ),
)
CONV_OPS = ("convolution", "conv2d", "cudnn_convolution", "mkldnn_convolution")


def _is_depthwise(input_shapes: Sequence[Sequence[int]] | None) -> bool:
    """A conv whose weight (2nd or 3rd argument, 4-D) has one input channel per group."""
    for shape in (input_shapes or [])[1:3]:
        if len(shape) == 4 and shape[1] == 1 and shape[0] > 1:
            return True
    return False


def categorize(name: str, input_shapes: Sequence[Sequence[int]] | None) -> str:
    """Category of one ATen op from its name (and, for convolutions, its weight shape)."""
    if any(fragment in name for fragment in CONV_OPS):
        return "conv depthwise" if _is_depthwise(input_shapes) else "conv dense"
    for category, fragments in CATEGORIES:
        if any(fragment in name for fragment in fragments):
            return category
    return "elementwise / other"


def _self_time_us(event: Any, on_cuda: bool) -> float:
    if on_cuda:
        for attribute in ("self_device_time_total", "self_cuda_time_total"):
            if hasattr(event, attribute):
                return float(getattr(event, attribute))
        return 0.0
    return float(event.self_cpu_time_total)


def profile_step(
    device: torch.device, levers: Levers, batch_size: int, size: int, steps: int, warmup: int
) -> dict[str, Any]:
    """Self time per category (ms per step) over ``steps`` profiled steps after ``warmup``."""
    batch = synthetic_batch(size, batch_size, device)
    hand = HandStep.build(device, levers)
    for _ in range(warmup):
        hand.step(batch)
    _sync(device)
    on_cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    with profile(activities=activities, record_shapes=True) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            hand.step(batch)
        _sync(device)
        wall = (time.perf_counter() - start) / steps
    totals: dict[str, float] = defaultdict(float)
    ops: dict[str, float] = defaultdict(float)
    for event in prof.key_averages(group_by_input_shape=True):
        if not event.key.startswith("aten::"):
            continue
        micros = _self_time_us(event, on_cuda)
        totals[categorize(event.key, event.input_shapes)] += micros
        ops[event.key] += micros
    busy_ms = sum(totals.values()) / 1e3 / steps
    categories = {name: value / 1e3 / steps for name, value in totals.items()}
    if on_cuda:
        categories["idle (launch gaps)"] = max(0.0, wall * 1e3 - busy_ms)
    top_ops = sorted(ops.items(), key=lambda item: -item[1])[:15]
    return {
        "step_ms": wall * 1e3,
        "busy_ms": busy_ms,
        "categories_ms": dict(sorted(categories.items(), key=lambda item: -item[1])),
        "top_ops_ms": {name: micros / 1e3 / steps for name, micros in top_ops},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--size", type=int)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--baseline", action="store_true", help="profile the plain fp32 step")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--fused", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/profile_step.json"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    on_cuda = device.type == "cuda"
    if on_cuda:
        torch.backends.cudnn.benchmark = True
    structural = not args.baseline
    levers = Levers(
        shared_g_forward=structural,
        batched_d=structural,
        vgg_targets_no_grad=structural,
        fused_adam=args.fused,
        channels_last=args.channels_last,
        bf16=args.bf16,
        compile=args.compile,
    )
    batch_size = args.batch_size or (32 if on_cuda else 4)
    size = args.size or (256 if on_cuda else 64)
    result = profile_step(device, levers, batch_size, size, args.steps, args.warmup)
    report = {
        "date": date.today().isoformat(),
        "device": _device_name(device),
        "torch": torch.__version__,
        "batch_size": batch_size,
        "size": size,
        "levers": asdict(levers),
        "time_kind": "device self time" if on_cuda else "CPU self time",
        **result,
    }
    total = sum(result["categories_ms"].values())
    print(f"{report['device']}, batch {batch_size}, {size}², step {result['step_ms']:.1f} ms")
    print(f"{'category':<22}{'ms/step':>10}{'share':>8}")
    for name, value in result["categories_ms"].items():
        print(f"{name:<22}{value:>10.2f}{value / total:>8.1%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
