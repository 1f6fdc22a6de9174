"""`make bench-quickstart`: time the quickstart run and measure what it learned.

Runs ``python -m animegan.cli.train`` (``experiment=quickstart``, plus any overrides) in a
subprocess, timing its wall and CPU time, then scores the fixed validation photos (the same
center crops the sample grids show) with two generators of the run:

- the one at the end of the init phase (``checkpoints/epoch<init_epochs - 1>.ckpt``): PSNR
  against the photos says how well the init phase reconstructs them;
- the final one (``checkpoints/last.ckpt``): PSNR against the photos (content kept) and against
  the photos passed through the embedded dataset's cartoon filter (:func:`animegan.data.builtin.
  cartoonize`, the target style of the quickstart's "anime" images): the GAN phase should move
  the output toward the second and away from the first.

PSNR is in dB over uint8 RGB, from the MSE pooled over all validation pixels (peak 255).
Writes ``benchmarks/results/quickstart.json`` (or ``--out``) and prints the figures.

    python benchmarks/bench_quickstart.py                    # random VGG features (offline)
    python benchmarks/bench_quickstart.py --vgg imagenet     # the torchvision VGG19 weights
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def psnr_db(reference: np.ndarray, candidate: np.ndarray) -> float:
    """PSNR in dB of uint8 images ``[N, H, W, 3]`` from their pooled MSE (inf when equal)."""
    mse = float(np.mean((reference.astype(np.float64) - candidate.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def validation_photos(config: dict) -> np.ndarray:
    """The run's validation photos as the sample grid shows them, ``[N, S, S, 3]`` uint8."""
    from animegan.data.datamodule import AnimeGANDataModule

    data = config["data"]
    module = AnimeGANDataModule(
        root=data["root"],
        builtin=bool(data.get("builtin", False)),
        image_size=int(data["image_size"]),
        batch_size=int(data["batch_size"]),
        num_val_images=int(data["num_val_images"]),
        cache_dir=data.get("cache_dir"),
    )
    module.setup("fit")
    photos = [module.val_dataset[i]["photo"] for i in range(len(module.val_dataset))]
    from animegan.utils.images import to_uint8_image

    return np.stack([to_uint8_image(photo.numpy().transpose(1, 2, 0)) for photo in photos])


def stylize_all(checkpoint: Path, photos: np.ndarray) -> np.ndarray:
    """Run a checkpoint's generator on uint8 photos ``[N, S, S, 3]``; same shape out."""
    import torch

    from animegan.models import load_generator
    from animegan.utils.images import from_uint8_image, to_uint8_image

    generator = load_generator(checkpoint)
    batch = from_uint8_image(torch.from_numpy(photos).permute(0, 3, 1, 2))
    with torch.no_grad():
        out = generator(batch)
    return to_uint8_image(out).permute(0, 2, 3, 1).numpy()


def checkpoint_epoch(path: Path) -> int | None:
    """The 0-based epoch a Lightning checkpoint was written in (tensors only are loaded)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    epoch = state.get("epoch") if isinstance(state, dict) else None
    return None if epoch is None else int(epoch)


def run_training(overrides: list[str], run_dir: Path) -> dict:
    """Train in a subprocess; returns wall and CPU seconds."""
    command = [sys.executable, "-m", "animegan.cli.train", "experiment=quickstart",
               f"hydra.run.dir={run_dir}", *overrides]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr[-4000:])
        raise SystemExit(f"training failed (exit {completed.returncode}): {' '.join(command)}")
    return {
        "command": " ".join(command[1:]),
        "wall_s": round(wall, 1),
        "cpu_user_s": round(after.ru_utime - before.ru_utime, 1),
        "cpu_system_s": round(after.ru_stime - before.ru_stime, 1),
    }


def measure(run_dir: Path) -> dict:
    """PSNR figures of a finished quickstart run folder."""
    from animegan.data.builtin import cartoonize

    config = yaml.safe_load((run_dir / "config_resolved.yaml").read_text())
    init_epochs = int(config["module"]["init_epochs"])
    photos = validation_photos(config)
    cartoons = np.stack([cartoonize(photo) for photo in photos])
    init_out = stylize_all(run_dir / "checkpoints" / f"epoch{init_epochs - 1:03d}.ckpt", photos)
    final_out = stylize_all(run_dir / "checkpoints" / "last.ckpt", photos)
    max_epochs = int(config["trainer"]["max_epochs"])
    last_epoch = checkpoint_epoch(run_dir / "checkpoints" / "last.ckpt")
    if last_epoch != max_epochs - 1:
        print(f"warning: last.ckpt is from epoch {last_epoch}, not the final epoch "
              f"{max_epochs - 1}: the final figures are not of the final weights", file=sys.stderr)
    return {
        "init_epochs": init_epochs,
        "max_epochs": max_epochs,
        "last_checkpoint_epoch": last_epoch,
        "image_size": int(config["data"]["image_size"]),
        "validation_photos": int(len(photos)),
        "psnr_db": {
            "init_phase_vs_photo": round(psnr_db(photos, init_out), 2),
            "final_vs_photo": round(psnr_db(photos, final_out), 2),
            "init_phase_vs_cartoon": round(psnr_db(cartoons, init_out), 2),
            "final_vs_cartoon": round(psnr_db(cartoons, final_out), 2),
            "photo_vs_cartoon": round(psnr_db(cartoons, photos), 2),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vgg", choices=["random", "imagenet"], default="random",
                        help="loss network weights (default random: no download)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/quickstart.json")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="keep the run here (default: a temporary folder)")  # fmt: skip
    parser.add_argument("--measure-only", type=Path, default=None, metavar="RUN_DIR",
                        help="only measure an existing quickstart run folder")  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args(argv)

    record: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="bench-quickstart-") as tmp:
        if args.measure_only is not None:
            run_dir = args.measure_only
        else:
            run_dir = args.run_dir or Path(tmp) / "run"
            overrides = [f"model.vgg.weights={args.vgg}", *args.overrides]
            record["training"] = run_training(overrides, run_dir)
            record["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        record |= measure(run_dir)
        record["final_grid"] = str(run_dir / "samples" / "last.png")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
