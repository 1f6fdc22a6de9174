"""Training-throughput benchmark: our LightningModule step against a plain fp32 eager baseline.

Both run in one process on the same device, model and batch, so the ratio is meaningful:

* ``baseline``: a straightforward sketch of the official step: G forward for D, D called on each
  of its four inputs, VGG features with autograd, a second G forward for G; fp32, eager.
* ``ours``: ``AnimeGANModule.training_step`` driven by a Lightning ``Trainer`` (real losses, real
  optimizers), with the precision / channels_last / compile switches given on the command line.

Prints images/s, step time (median over timed steps), peak memory and model-FLOPs utilisation
(FLOPs of one baseline step counted with ``torch.utils.flop_counter``), and writes a JSON file.

    python benchmarks/bench_train.py --device cuda --batch-size 32 --size 256 --precision bf16-mixed \
        --channels-last --compile
    python benchmarks/bench_train.py --device cpu --batch-size 2 --size 64 --steps 3   # smoke
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from datetime import date
from functools import partial
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

from animegan.losses import AnimeGANObjective
from animegan.models import Discriminator, Generator, VGG19Features
from animegan.training import AnimeGANModule


class SyntheticBatches(Dataset):
    """Random images in [-1, 1]: isolates the step from decoding (the data benchmark covers it)."""

    def __init__(self, size: int, length: int) -> None:
        self.size, self.length = size, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        image = torch.rand(3, self.size, self.size, generator=generator) * 2 - 1
        gray = image.mean(0, keepdim=True).expand(3, -1, -1).contiguous()
        return {
            "photo": image,
            "anime": image.flip(-1),
            "anime_gray": gray,
            "anime_smooth_gray": gray,
        }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB -> GB (process peak)


def baseline_step(nets, optimizers, objective, batch) -> None:
    """The plain official step, fp32 eager: D update then G update, nothing shared."""
    generator, discriminator, vgg = nets
    generator_optimizer, discriminator_optimizer = optimizers
    photo, anime, gray, smooth = (
        batch[k] for k in ("photo", "anime", "anime_gray", "anime_smooth_gray")
    )
    fake = generator(photo).detach()
    d_total, _ = objective.discriminator_loss(
        logits_anime=discriminator(anime),
        logits_fake=discriminator(fake),
        logits_anime_gray=discriminator(gray),
        logits_anime_smooth_gray=discriminator(smooth),
    )
    discriminator_optimizer.zero_grad(set_to_none=True)
    d_total.backward()
    discriminator_optimizer.step()
    fake = generator(photo)
    g_total, _ = objective.generator_loss(
        photo=photo,
        fake_anime=fake,
        photo_features=vgg(photo),
        fake_features=vgg(fake),
        anime_gray_features=vgg(gray),
        logits_fake=discriminator(fake),
    )
    generator_optimizer.zero_grad(set_to_none=True)
    g_total.backward()
    generator_optimizer.step()


def run_baseline(device, batch_size, size, steps, warmup) -> dict[str, float]:
    torch.manual_seed(0)
    nets = (Generator().to(device), Discriminator().to(device), VGG19Features("random").to(device))
    optimizers = (
        torch.optim.Adam(nets[0].parameters(), lr=2e-5, betas=(0.5, 0.999)),
        torch.optim.Adam(nets[1].parameters(), lr=4e-5, betas=(0.5, 0.999)),
    )
    objective = AnimeGANObjective({}, {})
    data = SyntheticBatches(size, batch_size)
    batch = {k: torch.stack([data[i][k] for i in range(batch_size)]).to(device) for k in data[0]}
    with FlopCounterMode(display=False) as counter:
        baseline_step(nets, optimizers, objective, batch)
    flops_per_image = counter.get_total_flops() / batch_size
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for index in range(warmup + steps):
        _sync(device)
        start = time.perf_counter()
        baseline_step(nets, optimizers, objective, batch)
        _sync(device)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    step = statistics.median(times)
    return {
        "step_s": step,
        "images_per_s": batch_size / step,
        "peak_memory_gb": _peak_memory_gb(device),
        "flops_per_image": flops_per_image,
    }


class _StepTimer(L.Callback):
    def __init__(self, device: torch.device, warmup: int) -> None:
        self.device, self.warmup, self.times, self._start = device, warmup, [], 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        _sync(self.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _sync(self.device)
        if batch_idx >= self.warmup:
            self.times.append(time.perf_counter() - self._start)


def run_ours(
    device, batch_size, size, steps, warmup, precision, channels_last, compile_nets, workers
):
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    adam = partial(torch.optim.Adam, betas=(0.5, 0.999))
    module = AnimeGANModule(
        generator=Generator(),
        discriminator=Discriminator(),
        feature_extractor=VGG19Features("random"),
        objective=AnimeGANObjective({}, {}),
        init_optimizer=partial(adam, lr=2e-4),
        generator_optimizer=partial(adam, lr=2e-5),
        discriminator_optimizer=partial(adam, lr=4e-5),
        init_epochs=0,
        channels_last=channels_last,
        compile=compile_nets,
    )
    timer = _StepTimer(device, warmup)
    trainer = L.Trainer(
        accelerator=device.type if device.type != "cuda" else "gpu",
        devices=1,
        precision=precision,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    loader = DataLoader(
        SyntheticBatches(size, batch_size * (warmup + steps)),
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    trainer.fit(module, loader)
    step = statistics.median(timer.times)
    return {
        "step_s": step,
        "images_per_s": batch_size / step,
        "peak_memory_gb": _peak_memory_gb(device),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--precision", default="bf16-mixed")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=790.0,
        help="chip peak for MFU (H100 bf16 measured ~790 TFLOP/s)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/train_throughput.json")
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)

    baseline = run_baseline(device, args.batch_size, args.size, args.steps, args.warmup)
    ours = run_ours(
        device,
        args.batch_size,
        args.size,
        args.steps,
        args.warmup,
        args.precision,
        args.channels_last,
        args.compile,
        args.workers,
    )
    flops = baseline.pop("flops_per_image")
    for result in (baseline, ours):
        result["mfu"] = flops * result["images_per_s"] / (args.peak_tflops * 1e12)
    report = {
        "date": date.today().isoformat(),
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "batch_size": args.batch_size,
        "size": args.size,
        "precision": args.precision,
        "channels_last": args.channels_last,
        "compile": args.compile,
        "gflop_per_image": flops / 1e9,
        "baseline_fp32_eager": baseline,
        "ours": ours,
        "speedup_vs_fp32_eager": ours["images_per_s"] / baseline["images_per_s"],
    }
    print(f"{'path':<22}{'images/s':>10}{'step ms':>10}{'peak GB':>10}{'MFU':>8}")
    for name, result in (("fp32 eager baseline", baseline), ("ours", ours)):
        print(
            f"{name:<22}{result['images_per_s']:>10.2f}{result['step_s'] * 1e3:>10.1f}"
            f"{result['peak_memory_gb']:>10.2f}{result['mfu']:>8.2%}"
        )
    print(f"speedup {report['speedup_vs_fp32_eager']:.2f}x; {flops / 1e9:.1f} GFLOP per image")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
