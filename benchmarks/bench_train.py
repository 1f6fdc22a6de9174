"""Training-throughput benchmark: our LightningModule step against a plain fp32 eager baseline.

Everything runs in one process on the same device, model sizes and batch, so ratios are fair:

* ``baseline_fp32_eager``: a straightforward sketch of the official step: G forward for D, D
  called on each of its four inputs, VGG targets in the autograd context, a second G forward for
  the G update; fp32, eager, default (for-each) Adam.
* ``ladder`` (``--ladder``): the same hand-written step with one lever added per rung (one G
  forward shared by both updates, D's four inputs in one call, VGG targets under ``no_grad``,
  fused Adam, channels-last, bf16 autocast, ``torch.compile`` of each network): each lever's
  before/after figure.
* ``ours``: ``AnimeGANModule.training_step`` driven by a Lightning ``Trainer`` (real losses, real
  optimizers, the NaN/Inf guard) on synthetic batches, with the switches given on the command line.
* ``end_to_end`` (``--data DIR``): ``ours`` again, fed by the real ``AnimeGANDataModule`` (decode,
  crops, smoothing cache, workers, pinned memory); the step-to-step interval includes waiting for
  data. ``loader`` is the same DataLoader alone, so "does the data path keep up" is answered.

Figures: images/s and step time (medians over the timed steps), peak memory (CUDA: allocator peak;
CPU: process peak RSS), model-FLOPs utilisation. FLOPs are counted with ``torch.utils.flop_counter``
on one baseline step (633 GFLOP per image at 256²) and MFU divides them by the peak for every row,
so rows compare on the same work; the FLOPs the optimised step really executes are reported
beside them. The peak for MFU is ``--peak-tflops`` (default on CUDA: 790, an H100's bf16 dense
matmul rate as measured in the external runs of benchmarks/TRAIN_SPEED.md) or, on CPU, a measured
matmul rate.

    python benchmarks/bench_train.py                      # CUDA: batch 32, 256²; CPU: batch 4, 64²
    python benchmarks/bench_train.py --device cuda --precision bf16-mixed --channels-last \\
        --compile --fused --ladder --data /data/selfie2anime/train --workers 8
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

from animegan.data import AnimeGANDataModule
from animegan.losses import AnimeGANObjective
from animegan.models import Discriminator, Generator, VGG19Features
from animegan.training import AnimeGANModule

Batch = dict[str, Tensor]
KEYS = ("photo", "anime", "anime_gray", "anime_smooth_gray")


class SyntheticBatches(Dataset):
    """Random images in [-1, 1]: isolates the step from decoding (``--data`` measures that)."""

    def __init__(self, size: int, length: int) -> None:
        self.size, self.length = size, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        generator = torch.Generator().manual_seed(index)
        image = torch.rand(3, self.size, self.size, generator=generator) * 2 - 1
        gray = image.mean(0, keepdim=True).expand(3, -1, -1).contiguous()
        return {
            "photo": image,
            "anime": image.flip(-1),
            "anime_gray": gray,
            "anime_smooth_gray": gray,
        }


def synthetic_batch(size: int, batch_size: int, device: torch.device) -> Batch:
    data = SyntheticBatches(size, batch_size)
    return {k: torch.stack([data[i][k] for i in range(batch_size)]).to(device) for k in KEYS}


# ----------------------------------------------------------------------------- measurement
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB -> GB (process peak)


def _summary(times: list[float], batch_size: int, device: torch.device) -> dict[str, float]:
    step = statistics.median(times)
    return {
        "step_s": step,
        "images_per_s": batch_size / step,
        "peak_memory_gb": _peak_memory_gb(device),
        "timed_steps": len(times),
    }


def measure_matmul_tflops(device: torch.device, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """Achieved dense matmul rate in TFLOP/s (the chip's practical peak for MFU on CPUs)."""
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    _sync(device)
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        runs += 1
    _sync(device)
    return 2 * n**3 * runs / (time.perf_counter() - start) / 1e12


# -------------------------------------------------------------------- hand-written step + levers
@dataclass(frozen=True)
class Levers:
    """Speed levers of the hand-written step; all off = the plain fp32 eager baseline."""

    shared_g_forward: bool = False
    batched_d: bool = False
    vgg_targets_no_grad: bool = False
    fused_adam: bool = False
    channels_last: bool = False
    bf16: bool = False
    compile: bool = False


# Cumulative: each rung keeps the levers above it. Order: structural first, then numerics/kernels.
LADDER: tuple[tuple[str, str], ...] = (
    ("baseline fp32 eager", ""),
    ("+ one G forward shared", "shared_g_forward"),
    ("+ D inputs in one call", "batched_d"),
    ("+ VGG targets no_grad", "vgg_targets_no_grad"),
    ("+ fused Adam", "fused_adam"),
    ("+ channels_last", "channels_last"),
    ("+ bf16 autocast", "bf16"),
    ("+ torch.compile", "compile"),
)


@dataclass
class HandStep:
    """Networks, optimizers and loss of the hand-written step (a fresh set per rung)."""

    generator: nn.Module
    discriminator: nn.Module
    vgg: nn.Module
    generator_optimizer: torch.optim.Optimizer
    discriminator_optimizer: torch.optim.Optimizer
    objective: AnimeGANObjective
    levers: Levers
    device: torch.device

    @classmethod
    def build(cls, device: torch.device, levers: Levers) -> HandStep:
        torch.manual_seed(0)
        generator, discriminator = Generator().to(device), Discriminator().to(device)
        vgg = VGG19Features("random").to(device)
        if levers.channels_last:
            for network in (generator, discriminator, vgg):
                network.to(memory_format=torch.channels_last)
        if levers.compile:
            for network in (generator, discriminator, vgg):
                network.compile()
        adam = partial(torch.optim.Adam, betas=(0.5, 0.999), fused=levers.fused_adam or None)
        return cls(
            generator,
            discriminator,
            vgg,
            adam(generator.parameters(), lr=2e-5),
            adam(discriminator.parameters(), lr=4e-5),
            AnimeGANObjective({}, {}),
            levers,
            device,
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.levers.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _discriminate(self, images: list[Tensor]) -> list[Tensor]:
        if self.levers.batched_d:
            return list(self.discriminator(torch.cat(images)).chunk(len(images)))
        return [self.discriminator(image) for image in images]

    def step(self, batch: Batch) -> None:
        """One D update then one G update (the official order)."""
        levers = self.levers
        if levers.channels_last:
            batch = {k: v.contiguous(memory_format=torch.channels_last) for k, v in batch.items()}
        photo, anime, gray, smooth = (batch[k] for k in KEYS)
        with self._autocast():
            fake = self.generator(photo)
            real, fake_logits, gray_logits, smooth_logits = self._discriminate(
                [anime, fake.detach(), gray, smooth]
            )
            d_total, _ = self.objective.discriminator_loss(
                logits_anime=real,
                logits_fake=fake_logits,
                logits_anime_gray=gray_logits,
                logits_anime_smooth_gray=smooth_logits,
            )
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        d_total.backward()
        self.discriminator_optimizer.step()

        self.discriminator.requires_grad_(False)
        with self._autocast():
            if not levers.shared_g_forward:
                fake = self.generator(photo)
            targets = torch.no_grad() if levers.vgg_targets_no_grad else contextlib.nullcontext()
            with targets:
                photo_features, gray_features = self.vgg(photo), self.vgg(gray)
            g_total, _ = self.objective.generator_loss(
                photo=photo,
                fake_anime=fake,
                photo_features=photo_features,
                fake_features=self.vgg(fake),
                anime_gray_features=gray_features,
                logits_fake=self.discriminator(fake),
            )
        self.generator_optimizer.zero_grad(set_to_none=True)
        g_total.backward()
        self.generator_optimizer.step()
        self.discriminator.requires_grad_(True)


def count_flops_per_image(step: Callable[[Batch], None], batch: Batch) -> float:
    """FLOPs of one call of ``step`` divided by the batch size (``torch.utils.flop_counter``)."""
    with FlopCounterMode(display=False) as counter:
        step(batch)
    return counter.get_total_flops() / batch["photo"].shape[0]


def time_hand_step(
    device: torch.device, levers: Levers, batch: Batch, steps: int, warmup: int
) -> dict[str, float]:
    """Median step time of the hand-written step with ``levers`` (fresh networks)."""
    _reset_peak(device)
    hand = HandStep.build(device, levers)
    times = []
    for index in range(warmup + steps):
        _sync(device)
        start = time.perf_counter()
        hand.step(batch)
        _sync(device)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    result = _summary(times, batch["photo"].shape[0], device)
    del hand
    return result


# ------------------------------------------------------------------------ the real module step
class StepTimer(L.Callback):
    """Per batch: compute time (batch start → end) and end-to-end interval (end → next end).

    Counts batches itself (``batch_idx`` restarts every epoch); the first ``warmup`` are untimed.
    """

    def __init__(self, device: torch.device, warmup: int) -> None:
        self.device, self.warmup = device, warmup
        self.compute: list[float] = []
        self.interval: list[float] = []
        self._start = self._last_end = 0.0
        self._batches = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        _sync(self.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _sync(self.device)
        now = time.perf_counter()
        if self._batches >= self.warmup:
            self.compute.append(now - self._start)
            self.interval.append(now - self._last_end)
        self._last_end = now
        self._batches += 1


@dataclass(frozen=True)
class RunSpec:
    device: torch.device
    batch_size: int
    size: int
    steps: int
    warmup: int
    precision: str
    channels_last: bool
    compile: bool
    fused: bool
    workers: int


def build_module(spec: RunSpec) -> AnimeGANModule:
    torch.manual_seed(0)
    adam = partial(torch.optim.Adam, betas=(0.5, 0.999), fused=spec.fused or None)
    return AnimeGANModule(
        generator=Generator(),
        discriminator=Discriminator(),
        feature_extractor=VGG19Features("random"),
        objective=AnimeGANObjective({}, {}),
        init_optimizer=partial(adam, lr=2e-4),
        generator_optimizer=partial(adam, lr=2e-5),
        discriminator_optimizer=partial(adam, lr=4e-5),
        init_epochs=0,
        channels_last=spec.channels_last,
        compile=spec.compile,
    )


def fit_and_time(
    spec: RunSpec,
    *,
    loader: DataLoader | None = None,
    datamodule: L.LightningDataModule | None = None,
) -> StepTimer:
    """``Trainer.fit`` of our module for ``warmup + steps`` GAN batches (over as many epochs as
    the data needs); returns the timer."""
    _reset_peak(spec.device)
    timer = StepTimer(spec.device, spec.warmup)
    trainer = L.Trainer(
        accelerator="gpu" if spec.device.type == "cuda" else spec.device.type,
        devices=1,
        precision=spec.precision,
        max_epochs=-1,
        max_steps=2 * (spec.warmup + spec.steps),  # optimizer steps: a D and a G update per batch
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(build_module(spec), train_dataloaders=loader, datamodule=datamodule)
    if len(timer.compute) < spec.steps:
        raise RuntimeError(
            f"only {len(timer.compute)} timed batches (asked for {spec.steps}): updates were "
            "skipped by the NaN/Inf guard (see the warnings above)"
        )
    return timer


def run_ours(spec: RunSpec) -> dict[str, float]:
    loader = DataLoader(
        SyntheticBatches(spec.size, spec.batch_size * (spec.warmup + spec.steps)),
        batch_size=spec.batch_size,
        num_workers=0,
        drop_last=True,
    )
    timer = fit_and_time(spec, loader=loader)
    return _summary(timer.compute, spec.batch_size, spec.device)


def _datamodule(spec: RunSpec, data: Path, cache_dir: Path) -> AnimeGANDataModule:
    return AnimeGANDataModule(
        root=data,
        image_size=spec.size,
        batch_size=spec.batch_size,
        num_workers=spec.workers,
        pin_memory=spec.device.type == "cuda",
        persistent_workers=spec.workers > 0,
        seed=0,
        cache_dir=cache_dir,
        num_val_images=1,
    )


def measure_loader(spec: RunSpec, data: Path, cache_dir: Path) -> dict[str, float]:
    """The real training DataLoader alone: images/s after its workers have started."""
    datamodule = _datamodule(spec, data, cache_dir)
    datamodule.prepare_data()
    datamodule.setup("fit")
    batches: Iterator[Mapping[str, Any]] = iter(datamodule.train_dataloader())
    for _ in range(min(spec.warmup, 2)):
        next(batches)
    count, start = 0, time.perf_counter()
    for _ in range(spec.steps):
        try:
            batch = next(batches)
        except StopIteration:
            break
        if spec.device.type == "cuda":  # the host→device copy is part of the data path
            for value in batch.values():
                if torch.is_tensor(value):
                    value.to(spec.device, non_blocking=True)
        count += batch["photo"].shape[0]
    _sync(spec.device)
    return {"images_per_s": count / (time.perf_counter() - start), "workers": spec.workers}


def run_end_to_end(spec: RunSpec, data: Path) -> dict[str, Any]:
    """Our step fed by the real DataModule; the interval includes any wait for data."""
    with tempfile.TemporaryDirectory(prefix="bench_train_cache_") as cache:
        loader = measure_loader(spec, data, Path(cache))
        timer = fit_and_time(spec, datamodule=_datamodule(spec, data, Path(cache)))
    result = _summary(timer.interval, spec.batch_size, spec.device)
    result["compute_step_s"] = statistics.median(timer.compute)
    result["data_wait_share"] = 1 - result["compute_step_s"] / result["step_s"]
    result["data"] = str(data)
    result["workers"] = spec.workers
    return {"end_to_end": result, "loader": loader}


# ------------------------------------------------------------------------------------ driver
def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU ×{os.cpu_count()} threads"


def run_ladder(spec: RunSpec, batch: Batch, final: Levers) -> list[dict[str, Any]]:
    """Cumulative lever rungs up to the levers of ``final`` (rungs it leaves off are skipped)."""
    rows, levers = [], Levers()
    for label, name in LADDER:
        if name:
            if not getattr(final, name):
                continue
            levers = replace(levers, **{name: True})
        result = time_hand_step(spec.device, levers, batch, spec.steps, spec.warmup)
        rows.append({"rung": label, "levers": asdict(levers), **result})
        print(f"  {label:<26}{result['images_per_s']:>9.2f} images/s", flush=True)
    return rows


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, help="default: 32 on CUDA, 4 on CPU")
    parser.add_argument(
        "--size", type=int, help="square crop side; default: 256 on CUDA, 64 on CPU"
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    parser.add_argument(
        "--warmup", type=int, default=5, help="untimed steps (compile happens here)"
    )
    parser.add_argument("--precision", default="bf16-mixed", help="ours: 32-true | bf16-mixed")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--fused", action="store_true", help="fused Adam for ours")
    parser.add_argument("--ladder", action="store_true", help="time each lever on its own rung")
    parser.add_argument("--data", type=Path, help="dataset root for the end-to-end measurement")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers with --data")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        help="peak for MFU; default: 790 on CUDA (measured H100 bf16), measured matmul on CPU",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/train_throughput.json")
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parse(argv)
    device = torch.device(args.device)
    on_cuda = device.type == "cuda"
    if on_cuda:  # PyTorch's defaults otherwise: fp32 matmuls, TF32 cuDNN convolutions
        torch.backends.cudnn.benchmark = True
    spec = RunSpec(
        device=device,
        batch_size=args.batch_size or (32 if on_cuda else 4),
        size=args.size or (256 if on_cuda else 64),
        steps=args.steps,
        warmup=args.warmup,
        precision=args.precision,
        channels_last=args.channels_last,
        compile=args.compile,
        fused=args.fused,
        workers=args.workers,
    )
    bf16 = spec.precision.startswith("bf16")
    ours_levers = Levers(True, True, True, spec.fused, spec.channels_last, bf16, spec.compile)
    batch = synthetic_batch(spec.size, spec.batch_size, device)

    flops = count_flops_per_image(HandStep.build(device, Levers()).step, batch)
    flops_ours = count_flops_per_image(
        HandStep.build(device, replace(ours_levers, compile=False)).step, batch
    )
    if args.peak_tflops is not None:
        peak, peak_source = args.peak_tflops, "--peak-tflops"
    elif on_cuda:
        peak, peak_source = 790.0, "H100 bf16 dense matmul (benchmarks/TRAIN_SPEED.md)"
    else:
        dtype = torch.bfloat16 if bf16 else torch.float32
        peak = measure_matmul_tflops(device, dtype)
        peak_source = f"measured {dtype} 2048² matmul on this CPU"

    print(f"baseline and levers on {_device_name(device)}, batch {spec.batch_size}, {spec.size}²")
    if args.ladder:
        ladder = run_ladder(spec, batch, ours_levers)
        baseline = {k: v for k, v in ladder[0].items() if k not in ("rung", "levers")}
    else:
        ladder = []
        baseline = time_hand_step(device, Levers(), batch, spec.steps, spec.warmup)
    ours = run_ours(spec)
    extra = run_end_to_end(spec, args.data) if args.data else {}

    results = [baseline, ours, *ladder, *([extra["end_to_end"]] if extra else [])]
    for result in results:
        result["mfu"] = flops * result["images_per_s"] / (peak * 1e12)
    report = {
        "date": date.today().isoformat(),
        "device": _device_name(device),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "batch_size": spec.batch_size,
        "size": spec.size,
        "precision": spec.precision,
        "channels_last": spec.channels_last,
        "compile": spec.compile,
        "fused_adam": spec.fused,
        "steps": spec.steps,
        "warmup": spec.warmup,
        "gflop_per_image": flops / 1e9,
        "gflop_per_image_executed_by_ours": flops_ours / 1e9,
        "peak_tflops": peak,
        "peak_source": peak_source,
        "load_average_after_run": list(os.getloadavg()),
        "tf32": {
            "matmul": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_conv": torch.backends.cudnn.allow_tf32,
        },
        "mfu_note": "every row divides the baseline step's FLOPs (gflop_per_image) by the peak, "
        "so 'ours' is credited with the G forward it no longer runs; on CPU the peak is a "
        "matmul rate in the precision of 'ours', also for the fp32 rows",
        "memory_note": "CUDA: allocator peak per row; CPU: process peak RSS so far (running max)",
        "baseline_fp32_eager": baseline,
        "ours": ours,
        "speedup_vs_fp32_eager": ours["images_per_s"] / baseline["images_per_s"],
        "ladder": ladder,
        **extra,
    }
    if extra:
        report["data_keeps_up"] = extra["loader"]["images_per_s"] >= ours["images_per_s"]
    _print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return report


def _print_report(report: Mapping[str, Any]) -> None:
    rows = [("fp32 eager baseline", report["baseline_fp32_eager"]), ("ours", report["ours"])]
    if "end_to_end" in report:
        rows.append(("ours, real data e2e", report["end_to_end"]))
    print(f"{'path':<24}{'images/s':>10}{'step ms':>10}{'peak GB':>10}{'MFU':>8}")
    for name, result in rows:
        print(
            f"{name:<24}{result['images_per_s']:>10.2f}{result['step_s'] * 1e3:>10.1f}"
            f"{result['peak_memory_gb']:>10.2f}{result['mfu']:>8.2%}"
        )
    if "loader" in report:
        loader = report["loader"]
        print(
            f"data loader alone: {loader['images_per_s']:.1f} images/s ({loader['workers']} workers)"
        )
    print(
        f"speedup {report['speedup_vs_fp32_eager']:.2f}x; {report['gflop_per_image']:.1f} GFLOP per "
        f"image (baseline), {report['gflop_per_image_executed_by_ours']:.1f} executed by ours; "
        f"MFU vs {report['peak_tflops']:.1f} TFLOP/s ({report['peak_source']})"
    )


if __name__ == "__main__":
    main()
