"""Data-pipeline throughput: JPEG decode + augmentation per CPU core, per recipe, and with N workers.

Measures, at the training size (default 256²):

* ``decode``: ways of decoding the photo files (what the dataset uses: PIL with JPEG draft mode;
  OpenCV ``imdecode``; PIL without draft) so the levers are visible;
* ``recipes``: per recipe of ``conf/augmentation/``, in one process pinned to one thread:
  - ``photo_images_per_s``: decode + shorter-side resize + the photo pipeline + tensor
    conversion of one photo (the figure the ≥ 300 images/s/core target is about);
  - ``anime_images_per_s``: the anime side of a sample (decode, cached smoothed image, the
    shared-geometry pipeline, gray targets, three tensors);
  - ``samples_per_s``: whole training samples (photo + anime side), i.e. what a GPU step eats;
* ``loader``: the DataLoader (the dataset, the unpaired sampler, collate and the recipe's batch
  step) with N worker processes, samples/s after the workers have started.

Real photos and anime images from ``../shared/data/selfie2anime`` when present (256×256 JPEG
photos; anime PNGs named .jpg), else generated JPEGs. Writes ``benchmarks/results/data.json``.

    python benchmarks/bench_data.py                     # all recipes, workers 0,1,2,...,cpu_count
    python benchmarks/bench_data.py --recipes full --workers 0,4,8,16 --seconds 5
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import hydra
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from animegan.data.datamodule import AnimeGANDataModule
from animegan.data.datasets import UnpairedPhotoAnimeDataset, image_to_tensor
from animegan.data.decode import read_image_rgb
from animegan.data.smoothing import SmoothCache, resize_shorter_side

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"
SHARED = REPO.parent / "shared" / "data" / "selfie2anime" / "train"
DEFAULT_RECIPES = ("none", "basic", "affine", "color", "clahe", "erasing", "full", "full_mixup")


def load_recipe(name: str, image_size: int) -> dict[str, Any]:
    """Instantiate ``conf/augmentation/<name>.yaml`` on its own (no training config needed)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name=f"augmentation/{name}", overrides=[f"+data.image_size={image_size}"]
        )
    GlobalHydra.instance().clear()
    return hydra.utils.instantiate(cfg.augmentation, _convert_="all")


def _textured_jpeg(path: Path, rng: np.random.Generator, size: int) -> None:
    # Smooth gradients + blobs + noise: compresses like a photo, not like flat colour or white noise.
    h, w = size, int(size * 1.25)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            128 + 100 * np.sin(xx / rng.uniform(10, 60) + c) * np.cos(yy / rng.uniform(10, 60))
            for c in range(3)
        ],
        axis=-1,
    )
    base *= rng.uniform(0.3, 1.0)  # some dark images, so low-light CLAHE fires on a share of them
    noise = rng.normal(0, 12, base.shape)
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path, quality=90)


def image_sets(
    num_images: int, size: int, workdir: Path, data: Path = SHARED
) -> tuple[list[Path], list[Path], str]:
    """(photos, anime, description): ``data/photo`` and ``data/anime`` if present (default the
    shared selfie2anime training set), else generated JPEGs."""
    photo_dir, anime_dir = data / "photo", data / "anime"
    if photo_dir.is_dir() and anime_dir.is_dir():
        photos = sorted(p for p in photo_dir.iterdir() if p.is_file())[:num_images]
        anime = sorted(p for p in anime_dir.iterdir() if p.is_file())[:num_images]
        if photos and anime:
            return photos, anime, f"{data} ({len(photos)} photos, {len(anime)} anime)"
    rng = np.random.default_rng(0)
    paths = {}
    for domain in ("photo", "anime"):
        folder = workdir / domain
        folder.mkdir(parents=True, exist_ok=True)
        paths[domain] = []
        for index in range(num_images):
            path = folder / f"{index:04d}.jpg"
            _textured_jpeg(path, rng, size)
            paths[domain].append(path)
    return (
        paths["photo"],
        paths["anime"],
        f"generated JPEGs ({num_images} per domain, {size}x{int(size * 1.25)})",
    )


# Clock for the per-core figures (set from --clock): CPU time of this single-threaded process is
# what "images/s per core" means, and unlike wall time it does not drop when other processes
# share the cores; the loader figures are always wall time (workers are other processes).
CLOCK: Callable[[], float] = time.process_time


def rate(function: Callable[[int], object], count: int, seconds: float) -> float:
    """Calls per second of ``function(i)`` for i = 0, 1, ...: median of 3 rounds of >= seconds/3."""
    function(0)  # warm caches and lazy initialisation
    rounds = []
    index = 0
    for _ in range(3):
        start, done = CLOCK(), 0
        while True:
            function(index % count)
            index += 1
            done += 1
            elapsed = CLOCK() - start
            if elapsed >= seconds / 3 and done >= 10:
                break
        rounds.append(done / elapsed)
    return statistics.median(rounds)


def bench_decode(photos: list[Path], size: int, seconds: float) -> dict[str, float]:
    raw = [p.read_bytes() for p in photos]

    def pil_draft(i: int) -> np.ndarray:
        return resize_shorter_side(read_image_rgb(photos[i], size), size)

    def pil_no_draft(i: int) -> np.ndarray:
        with Image.open(io.BytesIO(raw[i])) as img:
            return resize_shorter_side(np.asarray(img.convert("RGB")), size)

    def cv2_imdecode(i: int) -> np.ndarray:
        bgr = cv2.imdecode(np.frombuffer(raw[i], np.uint8), cv2.IMREAD_COLOR)
        return resize_shorter_side(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size)

    def to_tensor_only(i: int) -> torch.Tensor:
        return image_to_tensor(decoded[i % len(decoded)])

    decoded = [pil_draft(i) for i in range(min(len(photos), 32))]
    return {
        "pil_draft_from_file_images_per_s": rate(pil_draft, len(photos), seconds),
        "pil_from_memory_images_per_s": rate(pil_no_draft, len(photos), seconds),
        "cv2_imdecode_from_memory_images_per_s": rate(cv2_imdecode, len(photos), seconds),
        "uint8_to_float_tensor_images_per_s": rate(to_tensor_only, len(decoded), seconds),
    }


def make_dataset(
    photos: list[Path], anime: list[Path], size: int, recipe: dict[str, Any], cache: SmoothCache
) -> UnpairedPhotoAnimeDataset:
    dataset = UnpairedPhotoAnimeDataset(
        photos,
        anime,
        size,
        smooth_source=cache.get,
        photo_transform=recipe["photo"],
        anime_transform=recipe["anime"],
    )
    dataset.reseed(0)
    return dataset


def bench_recipe(
    photos: list[Path],
    anime: list[Path],
    size: int,
    recipe: dict[str, Any],
    cache: SmoothCache,
    seconds: float,
) -> dict[str, float]:
    dataset = make_dataset(photos, anime, size, recipe, cache)
    n = min(len(photos), len(anime))

    def photo_side(i: int) -> torch.Tensor:
        photo = resize_shorter_side(read_image_rgb(photos[i], size), size)
        return image_to_tensor(dataset.photo_transform(image=photo)["image"])

    def sample(i: int) -> dict[str, torch.Tensor]:
        return dataset[(i, (i * 7) % len(anime))]

    photo_rate = rate(photo_side, len(photos), seconds)
    sample_rate = rate(sample, n, seconds)
    # A sample = one photo side + one anime side, so the anime side's rate follows from the two.
    anime_rate = 1.0 / max(1.0 / sample_rate - 1.0 / photo_rate, 1e-9)
    out = {
        "photo_images_per_s": photo_rate,
        "anime_images_per_s": anime_rate,
        "samples_per_s": sample_rate,
    }
    batch_transform = recipe.get("batch_transform")
    if batch_transform is not None:
        batch = torch.utils.data.default_collate([dataset[(i, i)] for i in range(12)])
        per_batch = rate(lambda _: batch_transform(batch), 1, seconds / 3)
        out["batch_transform_samples_per_s"] = per_batch * 12
    return out


def bench_loader(
    photos: list[Path],
    anime: list[Path],
    size: int,
    recipe: dict[str, Any],
    cache_dir: Path,
    workers: int,
    batch_size: int,
    batches: int,
) -> float:
    """Samples/s of ``AnimeGANDataModule.train_dataloader()`` (the loader training uses)."""
    datamodule = AnimeGANDataModule(
        root=photos[0].parent.parent,
        photo_dir=photos[0].parent,
        anime_dir=anime[0].parent,
        image_size=size,
        batch_size=batch_size,
        num_workers=workers,
        persistent_workers=workers > 0,
        cache_dir=cache_dir,
        photo_transform=recipe["photo"],
        anime_transform=recipe["anime"],
        batch_transform=recipe.get("batch_transform"),
        num_val_images=1,
    )
    datamodule.prepare_data()
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    iterator = iter(loader)
    # Worker start-up and the first prefetch round are not throughput.
    for _ in range(max(2, workers)):
        next(iterator)
    total = 0
    start = time.perf_counter()
    for _ in range(batches):
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            batch = next(iterator)
        total += batch["photo"].shape[0]
    elapsed = time.perf_counter() - start
    del iterator, loader
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipes", default=",".join(DEFAULT_RECIPES))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument(
        "--data", type=Path, default=SHARED, help="folder with photo/ and anime/ (else generated)"
    )
    parser.add_argument("--num-images", type=int, default=200, help="files per domain")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    parser.add_argument(
        "--workers", default=None, help="comma list; default 0,1,2,4,.. up to cpu_count"
    )
    parser.add_argument(
        "--clock", choices=["cpu", "wall"], default="cpu", help="clock of the per-core figures"
    )
    parser.add_argument("--loader-recipe", default="full")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=30, help="timed loader batches per setting")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "data.json")
    args = parser.parse_args()

    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if args.workers is None:
        counts = [0] + [2**k for k in range(0, 8) if 2**k <= cpus]
    else:
        counts = [int(w) for w in args.workers.split(",")]
    # Per-core figures: one thread for every library in this process (workers inherit it).
    cv2.setNumThreads(1)
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        photos, anime, source = image_sets(args.num_images, args.size, workdir, args.data)
        cache = SmoothCache(workdir / "cache", args.size)
        cache.prepare(anime, num_workers=min(8, cpus))
        print(f"data: {source}; size {args.size}; {cpus} CPU(s)")

        decode = bench_decode(photos, args.size, args.seconds)
        for key, value in decode.items():
            print(f"  decode  {key:42s} {value:8.0f}")

        recipes = {}
        for name in [r for r in args.recipes.split(",") if r]:
            recipe = load_recipe(name, args.size)
            recipes[name] = bench_recipe(photos, anime, args.size, recipe, cache, args.seconds)
            r = recipes[name]
            print(
                f"  recipe  {name:12s} photo {r['photo_images_per_s']:6.0f} img/s/core   "
                f"anime side {r['anime_images_per_s']:6.0f} img/s/core   "
                f"sample {r['samples_per_s']:6.0f} samples/s/core"
            )

        loader_recipe = load_recipe(args.loader_recipe, args.size)
        loader = {}
        for workers in counts:
            value = bench_loader(
                photos,
                anime,
                args.size,
                loader_recipe,
                workdir / "cache",
                workers,
                args.batch_size,
                args.batches,
            )
            loader[str(workers)] = value
            print(f"  loader  {args.loader_recipe} workers={workers:3d}  {value:8.0f} samples/s")

    result = {
        "date": date.today().isoformat(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": cpus,
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "versions": {
            "torch": torch.__version__,
            "opencv": cv2.__version__,
            "pillow": Image.__version__,
            "albumentations": __import__("albumentations").__version__,
        },
        "data": source,
        "image_size": args.size,
        "units": (
            f"recipes/decode: per core (one process, 1 thread, {args.clock} clock); "
            "loader: wall-clock samples/s (photo + anime + gray + smooth gray) with N workers"
        ),
        "decode": decode,
        "recipes": recipes,
        "loader": {
            "recipe": args.loader_recipe,
            "batch_size": args.batch_size,
            "samples_per_s_by_workers": loader,
        },
        "target": {"recipe": "full", "photo_images_per_s_per_core": 300},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
