"""DDP scaling on paper: what one GAN step communicates under ``trainer=ddp``, and a time model.

Nothing here runs on several GPUs. The script builds the real generator and discriminator and
counts exactly what DistributedDataParallel reduces per GAN step: the fp32 gradient bytes of G+D
(two full reductions, one per backward), the DDP buckets (1 MiB first bucket, ``--bucket-cap-mb``
later ones, registration order), the per-backward "locally used" map of
``find_unused_parameters`` and the discriminator's spectral-norm buffers. It turns these counts
into a scaling table with a ring all-reduce model,
``t = 2(N-1)/N * S / busbw + launches * latency`` (``busbw`` as nccl-tests reports it), and an
efficiency ``t_step / (t_step + t_exposed)`` between two bounds: no overlap (all communication
exposed) and full overlap with the backward pass (``--backward-fraction`` of the step). For each
row it also says how many loader cores a node needs to feed its GPUs.

Every figure of the model is an argument: link bandwidth and latency within a node and across
nodes (defaults: typical large-message nccl-tests figures for NVLink4 H100 SXM and 400 Gb/s NDR
InfiniBand, not measurements), GPUs and cores per node, and the inputs below.

* step time of one GPU: ``--step-ms``; else ``ours.step_s`` of
  ``benchmarks/results/train_throughput.json`` (``make bench-train``), flagged loudly when that
  file was written on a CPU; else the external H100 figure recorded in benchmarks/TRAIN_SPEED.md
  (184 images/s at batch 32, 256² -> 174 ms per GAN step; not measured by this repository).
* samples/s of one loader core: ``--loader-images-per-s-per-core``; else the ``--recipe`` row
  of ``benchmarks/results/data.json`` (``benchmarks/bench_data.py``).

Prints the table and writes ``--out`` (default ``benchmarks/results/ddp_scaling.json``): the
gradient layout, the assumptions, one row per world size and the loader requirement per recipe.
Why each GAN step reduces the whole gradient twice, why the buckets are never rebuilt, why the
buffers are broadcast only once, what was observed on 2 CPU processes, the sources in torch and
Lightning, and how to read the table: docs/distributed.md ("What one step communicates",
"Scaling on paper").

    python benchmarks/ddp_scaling.py --out /tmp/ddp.json
    python benchmarks/ddp_scaling.py --step-ms 174 --inter-busbw 22 --gpus-per-node 8
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import torch
from torch import nn

from animegan.models import Discriminator, Generator

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
MIB = 1024 * 1024
GB = 1e9  # nccl-tests GB/s are 1e9 bytes/s
# Fallback step time: the reorganised GAN step that AnimeGANModule implements (bf16-mixed,
# channels-last, each network compiled) ran at 184 images/s, batch 32, 256², on one H100 with
# torch 2.11 -> 32 / 184 s per step. An external measurement, not reproduced by this repository:
# benchmarks/TRAIN_SPEED.md, "External H100 figures".
H100_PROBE_IMAGES_PER_S = 184.0
H100_PROBE_BATCH = 32
H100_PROBE_SIZE = 256
H100_PROBE_STEP_MS = round(1e3 * H100_PROBE_BATCH / H100_PROBE_IMAGES_PER_S)  # 174 ms
# torch.cuda.get_device_name() of GPUs bench_train.py may have run on; anything else is a CPU.
_GPU_MARKERS = ("nvidia", "tesla", "geforce", "quadro", "rtx", "amd instinct", "radeon", "mi300")
USED_MAP_BYTES_PER_TENSOR = 4  # int32 per parameter tensor (Reducer local_used_map_)


# ------------------------------------------------------------------------------- gradients
@dataclass(frozen=True)
class GradientLayout:
    """What DDP reduces and broadcasts for our LightningModule.

    Attributes:
        generator_parameters / discriminator_parameters: trainable elements per network.
        num_tensors: trainable parameter tensors (DDP's variables), G then D.
        gradient_bytes: fp32 gradient bytes of G+D, = 4 * parameters.
        bucket_bytes: bytes per DDP bucket in assignment (registration) order; DDP reduces them
            in reverse order.
        buffer_bytes: bytes of module buffers DDP broadcasts from rank 0 when it syncs buffers.
        num_buffers: number of those buffers (D's spectral-norm u/v vectors).
        used_map_bytes: bytes of the per-backward "locally used" all-reduce (int32 per tensor).
    """

    generator_parameters: int
    discriminator_parameters: int
    num_tensors: int
    gradient_bytes: int
    bucket_bytes: tuple[int, ...]
    buffer_bytes: int
    num_buffers: int
    used_map_bytes: int

    @property
    def parameters(self) -> int:
        """Trainable elements of G+D."""
        return self.generator_parameters + self.discriminator_parameters

    @property
    def num_buckets(self) -> int:
        """Number of DDP gradient buckets (= all-reduce launches per backward for gradients)."""
        return len(self.bucket_bytes)


def trainable_parameters(modules: Iterable[nn.Module]) -> list[nn.Parameter]:
    """Parameters with ``requires_grad`` of ``modules`` in registration order, shared ones once.

    Args:
        modules: networks in the order the LightningModule registers them (G, then D).

    Returns:
        The parameters DDP would hold at construction time.
    """
    seen: set[int] = set()
    result = []
    for module in modules:
        for parameter in module.parameters():
            if parameter.requires_grad and id(parameter) not in seen:
                seen.add(id(parameter))
                result.append(parameter)
    return result


def bucket_assignment(
    tensor_bytes: Sequence[int], first_bucket_bytes: int, bucket_bytes: int
) -> list[list[int]]:
    """DDP's size-based bucket assignment for tensors of one dtype and device.

    Walks the tensors in order, adds each to the open bucket and closes it once it holds at least
    the current limit; the first bucket's limit is ``first_bucket_bytes``, later ones
    ``bucket_bytes`` (the rule of ``dist._compute_bucket_assignment_by_size`` with limits
    ``[first, cap]``).

    Args:
        tensor_bytes: bytes of each gradient tensor, in registration order.
        first_bucket_bytes: limit of the first bucket, bytes (DDP default 1 MiB).
        bucket_bytes: limit of the later buckets, bytes (DDP default 25 MiB).

    Returns:
        Tensor indices per bucket, in assignment order.
    """
    buckets: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index, nbytes in enumerate(tensor_bytes):
        current.append(index)
        size += nbytes
        limit = first_bucket_bytes if not buckets else bucket_bytes
        if size >= limit:
            buckets.append(current)
            current, size = [], 0
    if current:
        buckets.append(current)
    return buckets


def gradient_layout(
    generator: nn.Module,
    discriminator: nn.Module,
    bucket_cap_mb: float = 25.0,
    first_bucket_mb: float = 1.0,
) -> GradientLayout:
    """Count what DDP communicates for G+D, exactly from the parameters and buffers.

    Args:
        generator: the photo → anime network (registered first in the LightningModule).
        discriminator: the anime critic (registered second).
        bucket_cap_mb: DDP ``bucket_cap_mb`` in MiB (default 25).
        first_bucket_mb: first-bucket cap in MiB (DDP default 1, ``_DEFAULT_FIRST_BUCKET_BYTES``).

    Returns:
        The :class:`GradientLayout`. Gradients are counted in the parameter dtype (fp32 here),
        which is what DDP all-reduces, also under bf16 autocast.
    """
    parameters = trainable_parameters([generator, discriminator])
    tensor_bytes = [p.numel() * p.element_size() for p in parameters]
    buckets = bucket_assignment(tensor_bytes, int(first_bucket_mb * MIB), int(bucket_cap_mb * MIB))
    buffers = [b for module in (generator, discriminator) for b in module.buffers()]
    return GradientLayout(
        generator_parameters=sum(p.numel() for p in trainable_parameters([generator])),
        discriminator_parameters=sum(p.numel() for p in trainable_parameters([discriminator])),
        num_tensors=len(parameters),
        gradient_bytes=sum(tensor_bytes),
        bucket_bytes=tuple(sum(tensor_bytes[i] for i in bucket) for bucket in buckets),
        buffer_bytes=sum(b.numel() * b.element_size() for b in buffers),
        num_buffers=len(buffers),
        used_map_bytes=USED_MAP_BYTES_PER_TENSOR * len(parameters),
    )


# ---------------------------------------------------------------------------- time model
def ring_allreduce_seconds(
    message_bytes: float, world_size: int, busbw_gbps: float, latency_us: float, launches: int = 1
) -> float:
    """Ring all-reduce time: ``2(N-1)/N * S / busbw + launches * latency``.

    Args:
        message_bytes: bytes reduced in total (summed over the launches), S.
        world_size: ranks N (>= 1; N = 1 communicates nothing).
        busbw_gbps: bus bandwidth in GB/s (1e9 bytes/s), as nccl-tests reports it.
        latency_us: fixed cost per collective launch, µs.
        launches: number of collectives the bytes are split into (DDP buckets).

    Returns:
        Seconds.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    if world_size == 1:
        return 0.0
    factor = 2 * (world_size - 1) / world_size
    return factor * message_bytes / (busbw_gbps * GB) + launches * latency_us * 1e-6


def broadcast_seconds(
    message_bytes: float, world_size: int, busbw_gbps: float, latency_us: float
) -> float:
    """Broadcast time: ``S / busbw + latency`` (nccl-tests broadcast busbw = algbw).

    Args:
        message_bytes: bytes broadcast, S.
        world_size: ranks N (N = 1 communicates nothing).
        busbw_gbps: bus bandwidth in GB/s (1e9 bytes/s).
        latency_us: fixed cost of the launch, µs.

    Returns:
        Seconds.
    """
    if world_size <= 1:
        return 0.0
    return message_bytes / (busbw_gbps * GB) + latency_us * 1e-6


def gan_step_comm_seconds(
    layout: GradientLayout,
    world_size: int,
    busbw_gbps: float,
    latency_us: float,
    broadcast_buffers: bool = False,
) -> dict[str, float]:
    """Communication of one GAN step: 2 backward reductions (+ 1 buffer broadcast if asked).

    Each backward all-reduces every bucket (full G+D gradient) and the used-parameter map.

    Args:
        layout: what DDP holds (see :func:`gradient_layout`).
        world_size: ranks N.
        busbw_gbps: bus bandwidth in GB/s.
        latency_us: per-launch latency, µs.
        broadcast_buffers: add one buffer broadcast per step (plain DDP; Lightning's manual
            optimisation skips it after the first step).

    Returns:
        Seconds: ``allreduce`` (both backwards), ``broadcast`` and ``total``.
    """
    per_backward = ring_allreduce_seconds(
        layout.gradient_bytes, world_size, busbw_gbps, latency_us, launches=layout.num_buckets
    ) + ring_allreduce_seconds(layout.used_map_bytes, world_size, busbw_gbps, latency_us)
    allreduce = 2 * per_backward
    broadcast = (
        broadcast_seconds(layout.buffer_bytes, world_size, busbw_gbps, latency_us)
        if broadcast_buffers
        else 0.0
    )
    return {"allreduce": allreduce, "broadcast": broadcast, "total": allreduce + broadcast}


def efficiency(step_s: float, exposed_comm_s: float) -> float:
    """Scaling efficiency ``t_step / (t_step + t_exposed)``, in (0, 1].

    Args:
        step_s: single-GPU step time (compute), seconds, > 0.
        exposed_comm_s: communication time not hidden behind compute, seconds, >= 0.

    Returns:
        The fraction of linear scaling kept.
    """
    if step_s <= 0 or exposed_comm_s < 0:
        raise ValueError(f"need step_s > 0 and exposed_comm_s >= 0, got {step_s}, {exposed_comm_s}")
    return step_s / (step_s + exposed_comm_s)


@dataclass(frozen=True)
class Link:
    """Interconnect assumption for one regime.

    Attributes:
        name: label for the table (e.g. ``"NVLink"``).
        busbw_gbps: all-reduce bus bandwidth, GB/s (1e9 bytes/s).
        latency_us: fixed cost per collective launch, µs.
    """

    name: str
    busbw_gbps: float
    latency_us: float


def scaling_rows(
    layout: GradientLayout,
    step_s: float,
    batch_size: int,
    world_sizes: Sequence[int],
    gpus_per_node: int,
    intra: Link,
    inter: Link,
    backward_fraction: float,
    broadcast_buffers: bool = False,
) -> list[dict[str, Any]]:
    """One row per world size: communication per step, both efficiency bounds, throughput.

    Args:
        layout: what DDP holds.
        step_s: single-GPU GAN step time, seconds.
        batch_size: images per GPU per step.
        world_sizes: GPU counts N to tabulate.
        gpus_per_node: GPUs in one node; N above it uses ``inter``.
        intra: link within a node.
        inter: link across nodes (the ring's bottleneck once it leaves the node).
        backward_fraction: share of the step that is backward compute (overlap window), [0, 1].
        broadcast_buffers: model one buffer broadcast per step (see :func:`gan_step_comm_seconds`).

    Returns:
        Rows with times in ms, efficiencies in (0, 1] and images/s for all N GPUs.
    """
    rows = []
    for n in world_sizes:
        link = intra if n <= gpus_per_node else inter
        comm = gan_step_comm_seconds(layout, n, link.busbw_gbps, link.latency_us, broadcast_buffers)
        exposed_best = max(0.0, comm["allreduce"] - backward_fraction * step_s) + comm["broadcast"]
        worst, best = efficiency(step_s, comm["total"]), efficiency(step_s, exposed_best)
        rows.append(
            {
                "gpus": n,
                "nodes": -(-n // gpus_per_node),
                "link": link.name,
                "busbw_gbps": link.busbw_gbps,
                "latency_us": link.latency_us,
                "comm_ms_per_step": 1e3 * comm["total"],
                "allreduce_ms_per_step": 1e3 * comm["allreduce"],
                "broadcast_ms_per_step": 1e3 * comm["broadcast"],
                "efficiency_no_overlap": worst,
                "efficiency_full_overlap": best,
                "images_per_s_no_overlap": n * batch_size / (step_s + comm["total"]),
                "images_per_s_full_overlap": n * batch_size / (step_s + exposed_best),
            }
        )
    return rows


# --------------------------------------------------------------------------- data loading
def loader_requirement(
    images_per_s_per_gpu: float,
    gpus_on_node: int,
    samples_per_s_per_core: float,
    cores_per_node: int,
    cores_reserved_per_gpu: float,
) -> dict[str, float]:
    """Whether one node's CPU cores can feed its GPUs.

    Args:
        images_per_s_per_gpu: training samples one GPU consumes per second (batch / step time).
        gpus_on_node: GPUs training on the node.
        samples_per_s_per_core: samples/s one loader core produces (photo + anime side).
        cores_per_node: CPU cores of the node.
        cores_reserved_per_gpu: cores kept for each GPU's training process (not loading).

    Returns:
        ``needed_samples_per_s`` for the node, ``cores_needed``, ``loader_cores_available`` and
        ``headroom`` (available / needed; < 1 means the GPUs will wait for data).
    """
    needed = gpus_on_node * images_per_s_per_gpu
    cores_needed = needed / samples_per_s_per_core
    available = max(0.0, cores_per_node - gpus_on_node * cores_reserved_per_gpu)
    return {
        "needed_samples_per_s": needed,
        "cores_needed": cores_needed,
        "loader_cores_available": available,
        "headroom": available / cores_needed if cores_needed > 0 else float("inf"),
    }


def per_core_rates(data_json: Path) -> dict[str, float]:
    """Per-recipe samples/s per core from ``bench_data.py``'s JSON (``recipes.<r>.samples_per_s``).

    Args:
        data_json: path of ``benchmarks/results/data.json``.

    Returns:
        ``{recipe: samples/s per core}``; empty when the file or the figures are absent.
    """
    if not data_json.is_file():
        return {}
    recipes = json.loads(data_json.read_text()).get("recipes", {})
    return {
        name: float(values["samples_per_s"])
        for name, values in recipes.items()
        if isinstance(values, dict) and "samples_per_s" in values
    }


# ---------------------------------------------------------------------------- step time
def _display(path: Path) -> str:
    """``path`` relative to the repository when inside it (shorter, machine-independent)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def looks_like_gpu(device_name: str) -> bool:
    """True when ``device_name`` (as bench_train.py records it) names a GPU, not a CPU."""
    name = device_name.lower()
    return any(marker in name for marker in _GPU_MARKERS)


def resolve_step_time(
    step_ms: float | None, throughput_json: Path, batch_size: int, size: int
) -> dict[str, Any]:
    """Pick the single-GPU step time and say where it comes from.

    Args:
        step_ms: explicit step time in ms (``--step-ms``), wins when given.
        throughput_json: ``bench_train.py`` output read when ``step_ms`` is None.
        batch_size: images per GPU per step for an explicit ``step_ms``.
        size: image side for an explicit ``step_ms``.

    Returns:
        ``step_s``, ``batch_size``, ``size``, ``source``, ``device``, ``is_gpu_figure`` and
        ``warning`` (None, or a message to print loudly).
    """
    if step_ms is not None:
        return {
            "step_s": step_ms / 1e3,
            "batch_size": batch_size,
            "size": size,
            "source": "--step-ms",
            "device": "as stated by the user",
            "is_gpu_figure": True,
            "warning": None,
        }
    if throughput_json.is_file():
        report = json.loads(throughput_json.read_text())
        device = str(report.get("device", ""))
        gpu = looks_like_gpu(device)
        warning = None
        if not gpu:
            warning = (
                f"THE STEP TIME IS NOT A GPU FIGURE: {_display(throughput_json)} was written on "
                f"'{device or 'unknown'}' (batch {report.get('batch_size')}, "
                f"{report.get('size')}²). The efficiencies below are then meaningless for GPUs. "
                "Use the external H100 figure of benchmarks/TRAIN_SPEED.md "
                f"({H100_PROBE_IMAGES_PER_S:.0f} images/s at batch {H100_PROBE_BATCH}, "
                f"{H100_PROBE_SIZE}² -> {H100_PROBE_STEP_MS} ms/step) with "
                f"--step-ms {H100_PROBE_STEP_MS}, or run `make bench-train` on a GPU."
            )
        return {
            "step_s": float(report["ours"]["step_s"]),
            "batch_size": int(report["batch_size"]),
            "size": int(report["size"]),
            "source": _display(throughput_json),
            "device": device,
            "is_gpu_figure": gpu,
            "warning": warning,
        }
    return {
        "step_s": H100_PROBE_STEP_MS / 1e3,
        "batch_size": H100_PROBE_BATCH,
        "size": H100_PROBE_SIZE,
        "source": (
            "external H100 figure of benchmarks/TRAIN_SPEED.md: "
            f"{H100_PROBE_IMAGES_PER_S:.0f} images/s at batch {H100_PROBE_BATCH}, "
            f"{H100_PROBE_SIZE}²; not measured by this repository"
        ),
        "device": "NVIDIA H100 (external figure)",
        "is_gpu_figure": True,
        "warning": None,
    }


# ---------------------------------------------------------------------------------- main
def _print_report(report: dict[str, Any]) -> None:
    step, grads = report["step"], report["gradients"]
    if step["warning"]:
        print("!" * 100 + f"\n!! {step['warning']}\n" + "!" * 100)
    print("DDP scaling ON PAPER (model + assumptions; nothing here ran on several GPUs)")
    print(
        f"step: {step['step_s'] * 1e3:.1f} ms per GAN step on one GPU, batch {step['batch_size']}"
        f" per GPU, {step['size']}² ({step['source']})"
    )
    buckets = " + ".join(f"{b:,}" for b in grads["bucket_bytes"])
    print(
        f"gradients: G {grads['generator_parameters']:,} + D {grads['discriminator_parameters']:,}"
        f" = {grads['parameters']:,} trainable parameters in {grads['num_tensors']} tensors"
        f" -> {grads['gradient_bytes']:,} B fp32 ({grads['gradient_bytes'] / MIB:.2f} MiB)"
    )
    print(
        f"DDP buckets (1 MiB first, 25 MiB cap): {grads['num_buckets']} = {buckets} B; "
        f"buffers: {grads['num_buffers']} spectral-norm u/v, {grads['buffer_bytes']:,} B"
    )
    broadcast = (
        "+ 1 buffer broadcast"
        if report["assumptions"]["broadcast_buffers_per_step"]
        else "(no per-step buffer broadcast under Lightning manual optimisation)"
    )
    print(
        "per GAN step: 2 backward passes x (all buckets + used-map all-reduce of "
        f"{grads['used_map_bytes']} B) {broadcast}; overlap window = "
        f"{report['assumptions']['backward_fraction']:.0%} of the step"
    )
    header = (
        f"{'GPUs':>5}{'nodes':>6}  {'link':<11}{'busbw GB/s':>11}{'lat µs':>7}{'comm ms':>9}"
        f"{'eff worst':>10}{'eff best':>9}{'all img/s worst':>16}{'loader cores':>14}"
    )
    print(header)
    for row in report["rows"]:
        loader = row["loader"]
        cores = f"{loader['cores_needed']:.1f}/{loader['loader_cores_available']:.0f}"
        print(
            f"{row['gpus']:>5}{row['nodes']:>6}  {row['link']:<11}{row['busbw_gbps']:>11.0f}"
            f"{row['latency_us']:>7.0f}{row['comm_ms_per_step']:>9.3f}"
            f"{row['efficiency_no_overlap']:>10.2%}{row['efficiency_full_overlap']:>9.2%}"
            f"{row['images_per_s_no_overlap']:>16.0f}{cores:>14}"
        )
    loader = report["loader"]
    print(
        f"loader cores = needed/available per node for recipe '{loader['recipe']}' at "
        f"{loader['samples_per_s_per_core']:.0f} samples/s per core ({loader['source']}); "
        f"{loader['cores_per_node']} cores per node, {loader['cores_reserved_per_gpu']:g} kept per "
        "GPU process"
    )
    if loader["per_recipe_full_node"]:
        recipes = loader["per_recipe_full_node"]
        available = next(iter(recipes.values()))["loader_cores_available"]
        cells = ", ".join(
            f"{name} {values['cores_needed']:.1f}"
            + (" (DATA-BOUND)" if values["headroom"] < 1 else "")
            for name, values in recipes.items()
        )
        print(
            f"cores needed to feed {loader['full_node_gpus']} GPUs ({available:.0f} available), "
            f"by recipe: {cells}"
        )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--step-ms", type=float, default=None, help="single-GPU GAN step, ms")
    parser.add_argument(
        "--throughput-json",
        type=Path,
        default=RESULTS / "train_throughput.json",
        help="bench_train.py output, read when --step-ms is not given",
    )
    parser.add_argument("--batch-size", type=int, default=H100_PROBE_BATCH, help="with --step-ms")
    parser.add_argument("--size", type=int, default=H100_PROBE_SIZE, help="with --step-ms")
    parser.add_argument("--world-sizes", default="2,4,8,16,32", help="GPU counts to tabulate")
    parser.add_argument("--gpus-per-node", type=int, default=8)
    parser.add_argument(
        "--intra-busbw", type=float, default=360.0, help="GB/s in a node (NVLink4 H100 SXM)"
    )
    parser.add_argument("--intra-latency-us", type=float, default=20.0)
    parser.add_argument(
        "--inter-busbw", type=float, default=45.0, help="GB/s per GPU across nodes (400G NDR IB)"
    )
    parser.add_argument("--inter-latency-us", type=float, default=40.0)
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0, help="DDP bucket_cap_mb")
    parser.add_argument(
        "--broadcast-buffers",
        action="store_true",
        help="model one buffer broadcast per step (plain DDP; Lightning manual opt. skips it)",
    )
    parser.add_argument(
        "--backward-fraction",
        type=float,
        default=0.5,
        help="share of the step that is backward compute (overlap window of the best bound)",
    )
    parser.add_argument(
        "--loader-images-per-s-per-core",
        type=float,
        default=None,
        help="samples/s one loader core delivers (default: data.json for --recipe)",
    )
    parser.add_argument("--data-json", type=Path, default=RESULTS / "data.json")
    parser.add_argument(
        "--recipe", default="none", help="augmentation recipe of data.json (training default)"
    )
    parser.add_argument("--cores-per-node", type=int, default=16)
    parser.add_argument("--cores-reserved-per-gpu", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "ddp_scaling.json")
    args = parser.parse_args(argv)
    if not 0.0 <= args.backward_fraction <= 1.0:
        parser.error("--backward-fraction must be in [0, 1]")
    world_sizes = [int(n) for n in args.world_sizes.split(",") if n.strip()]

    torch.manual_seed(0)
    layout = gradient_layout(Generator(), Discriminator(), bucket_cap_mb=args.bucket_cap_mb)
    step = resolve_step_time(args.step_ms, args.throughput_json, args.batch_size, args.size)
    intra = Link("NVLink", args.intra_busbw, args.intra_latency_us)
    inter = Link("InfiniBand", args.inter_busbw, args.inter_latency_us)
    rows = scaling_rows(
        layout,
        step["step_s"],
        step["batch_size"],
        world_sizes,
        args.gpus_per_node,
        intra,
        inter,
        args.backward_fraction,
        args.broadcast_buffers,
    )

    rates = per_core_rates(args.data_json)
    if args.loader_images_per_s_per_core is not None:
        per_core, source = args.loader_images_per_s_per_core, "--loader-images-per-s-per-core"
    elif args.recipe in rates:
        per_core, source = rates[args.recipe], f"{_display(args.data_json)} recipes.{args.recipe}"
    else:
        parser.error(
            f"no per-core samples/s for recipe '{args.recipe}' in {args.data_json}; run "
            "benchmarks/bench_data.py or pass --loader-images-per-s-per-core"
        )
    images_per_s_per_gpu = step["batch_size"] / step["step_s"]
    for row in rows:
        row["loader"] = loader_requirement(
            images_per_s_per_gpu,
            min(row["gpus"], args.gpus_per_node),
            per_core,
            args.cores_per_node,
            args.cores_reserved_per_gpu,
        )
    full_node = {
        name: loader_requirement(
            images_per_s_per_gpu,
            args.gpus_per_node,
            rate,
            args.cores_per_node,
            args.cores_reserved_per_gpu,
        )
        for name, rate in rates.items()
    }

    report = {
        "date": date.today().isoformat(),
        "kind": "on paper: a model with stated assumptions, nothing ran on several GPUs",
        "torch": torch.__version__,
        "step": step,
        "gradients": {
            **asdict(layout),
            "bucket_bytes": list(layout.bucket_bytes),
            "parameters": layout.parameters,
            "num_buckets": layout.num_buckets,
            "allreduces_per_gan_step": 2,
            "bytes_allreduced_per_gan_step": 2 * (layout.gradient_bytes + layout.used_map_bytes),
        },
        "assumptions": {
            "gpus_per_node": args.gpus_per_node,
            "intra": asdict(intra),
            "inter": asdict(inter),
            "bucket_cap_mb": args.bucket_cap_mb,
            "first_bucket_mb": 1.0,
            "backward_fraction": args.backward_fraction,
            "broadcast_buffers_per_step": args.broadcast_buffers,
            "ring_allreduce": "t = 2(N-1)/N * S / busbw + launches * latency",
        },
        "rows": rows,
        "loader": {
            "recipe": args.recipe,
            "samples_per_s_per_core": per_core,
            "source": source,
            "images_per_s_per_gpu": images_per_s_per_gpu,
            "cores_per_node": args.cores_per_node,
            "cores_reserved_per_gpu": args.cores_reserved_per_gpu,
            "full_node_gpus": args.gpus_per_node,
            "per_recipe_full_node": full_node,
        },
    }
    _print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
