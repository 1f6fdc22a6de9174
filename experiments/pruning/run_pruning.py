"""Pruning study: size, CPU latency and output fidelity of pruned generators vs the unpruned one.

    python experiments/pruning/run_pruning.py --weights G.pt --ratios 0.2 0.4 0.6 \
        --finetune-steps 100 --finetune-photos ../shared/data/selfie2anime/train/photo \
        --faces ../shared/data/selfie2anime/test/photo --scenes ../shared/data/scenes \
        --out experiments/pruning/results

For every ratio (and, with ``--finetune-steps``, again after a fine-tune towards the unpruned
outputs) it writes one row: parameters, fp32 ``.pt`` size, CPU latency at ``--latency-size``
(median of ``--repeats`` after one warm-up, ``--threads`` threads; PyTorch eager and
onnxruntime fp32; measured once per ratio, since a fine-tune keeps every shape), and PSNR / LPIPS of the pruned outputs against the unpruned generator's on
the face photos (``--face-size`` squares) and the scenes (``--scene-size`` squares). LPIPS is
the project's ``metrics=tiny`` LPIPS (AlexNet layout, *random* backbone, real linear heads):
the real backbone cannot be downloaded here, so its values only rank rows of this table.
Outputs: ``results.jsonl`` (one row as soon as it is measured), ``results.csv``,
``results.md`` and ``pruning.png`` in ``--out``; ``--table-only`` rebuilds the last three from
``results.jsonl``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _latency_torch(generator: torch.nn.Module, size: int, repeats: int) -> float:
    photo = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    times = []
    with torch.inference_mode():
        generator(photo)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            generator(photo)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _latency_ort(onnx_path: Path, size: int, repeats: int, threads: int) -> float:
    import onnxruntime as ort

    from animegan.inference.backends import OUTPUT_NAME, PHOTO_INPUT, ort_session_options

    session = ort.InferenceSession(
        str(onnx_path), ort_session_options(intra_op_threads=threads),
        providers=["CPUExecutionProvider"],
    )  # fmt: skip
    photo = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
    session.run([OUTPUT_NAME], {PHOTO_INPUT: photo})  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run([OUTPUT_NAME], {PHOTO_INPUT: photo})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Fidelity:
    """PSNR (uint8 outputs, pooled MSE) and random-backbone LPIPS against reference outputs."""

    def __init__(self, photos: list[Path], size: int, reference: torch.nn.Module) -> None:
        from animegan.evaluation import LPIPSNetwork
        from animegan.export.quantize import load_square_photo
        from animegan.inference.pipeline import photo_to_input

        # metrics=tiny's LPIPS: alex layout, random backbone (seed 0), real linear heads.
        self.lpips = LPIPSNetwork(net="alex", backbone="random", seed=0)
        self.inputs = [torch.from_numpy(photo_to_input(load_square_photo(p, size))) for p in photos]
        self.size = size
        self.reference = [self._run(reference, x) for x in self.inputs]

    @staticmethod
    @torch.inference_mode()
    def _run(generator: torch.nn.Module, photo: torch.Tensor) -> torch.Tensor:
        return generator(photo).clamp(-1, 1)

    @torch.inference_mode()
    def __call__(self, generator: torch.nn.Module) -> tuple[float, float]:
        from animegan.export.quantize import psnr
        from animegan.inference.pipeline import output_to_uint8

        mses, lpips_values = [], []
        for photo, ref in zip(self.inputs, self.reference, strict=True):
            out = self._run(generator, photo)
            ref_u8 = output_to_uint8(ref[0].permute(1, 2, 0).numpy())
            out_u8 = output_to_uint8(out[0].permute(1, 2, 0).numpy())
            value = psnr(ref_u8, out_u8)
            mses.append(0.0 if math.isinf(value) else 255.0**2 / 10 ** (value / 10))
            lpips_values.append(float(self.lpips(out, ref)[0]))
        mean_mse = float(np.mean(mses))
        pooled = math.inf if mean_mse == 0 else 10 * math.log10(255.0**2 / mean_mse)
        return pooled, float(np.mean(lpips_values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    parser.add_argument("--score", default="l1", choices=("l1", "l1_gamma"))
    parser.add_argument("--finetune-steps", type=int, default=0)
    parser.add_argument("--finetune-photos", type=Path)
    parser.add_argument("--finetune-count", type=int, default=200)
    parser.add_argument("--finetune-size", type=int, default=128)
    parser.add_argument("--finetune-batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--faces", type=Path, required=True)
    parser.add_argument("--face-count", type=int, default=100)
    parser.add_argument("--face-size", type=int, default=256)
    parser.add_argument("--scenes", type=Path)
    parser.add_argument("--scene-count", type=int, default=5)
    parser.add_argument("--scene-size", type=int, default=512)
    parser.add_argument("--latency-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights-note", default="", help="what the weights are (for the table)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--table-only", action="store_true", help="rebuild table and plot from <out>/results.jsonl"
    )
    args = parser.parse_args(argv)
    if args.table_only:
        lines = (args.out / "results.jsonl").read_text().splitlines()
        _finish([json.loads(line) for line in lines if line.strip()], args)
        return 0

    import onnxruntime as ort

    from animegan.export.onnx import export_onnx
    from animegan.export.prune import prune_generator, save_pruned
    from animegan.export.prune_finetune import finetune_pruned
    from animegan.export.quantize import list_photos
    from animegan.models import count_parameters, load_generator

    ort.set_default_logger_severity(3)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = load_generator(args.weights)
    faces = Fidelity(list_photos(args.faces, args.face_count), args.face_size, teacher)
    scenes = (
        Fidelity(list_photos(args.scenes, args.scene_count), args.scene_size, teacher)
        if args.scenes
        else None
    )
    tune_photos = (
        list_photos(args.finetune_photos, args.finetune_count) if args.finetune_steps > 0 else []
    )
    full_params = count_parameters(teacher)

    configs: list[tuple[float, int]] = [(0.0, 0)]
    for ratio in args.ratios:
        configs.append((ratio, 0))
        if args.finetune_steps > 0:
            configs.append((ratio, args.finetune_steps))
    rows = []
    latency: dict[float, tuple[float, float]] = {}  # per ratio: a fine-tune keeps the shapes
    with tempfile.TemporaryDirectory() as tmp:
        for ratio, steps in configs:
            start = time.perf_counter()
            student, _ = prune_generator(teacher, ratio, score=args.score)
            tune_s = 0.0
            if steps:
                tune_start = time.perf_counter()
                finetune_pruned(
                    student, teacher, tune_photos, steps=steps, batch_size=args.finetune_batch,
                    image_size=args.finetune_size, lr=args.lr, seed=0,
                )  # fmt: skip
                tune_s = time.perf_counter() - tune_start
            pt_path = save_pruned(student, Path(tmp) / f"g_{ratio}_{steps}.pt")
            student = load_generator(pt_path)  # what a user of the file gets
            onnx_path = export_onnx(student, Path(tmp) / f"g_{ratio}_{steps}.onnx")
            params = count_parameters(student)
            if ratio not in latency:
                latency[ratio] = (
                    _latency_torch(student, args.latency_size, args.repeats),
                    _latency_ort(onnx_path, args.latency_size, args.repeats, args.threads),
                )
            face_psnr, face_lpips = faces(student)
            scene_psnr, scene_lpips = scenes(student) if scenes else (math.nan, math.nan)
            row = {
                "ratio": ratio,
                "finetune_steps": steps,
                "params": params,
                "params_vs_full": params / full_params,
                "pt_mb": pt_path.stat().st_size / 1e6,
                "onnx_mb": onnx_path.stat().st_size / 1e6,
                "torch_s": latency[ratio][0],
                "ort_s": latency[ratio][1],
                "face_psnr_db": face_psnr,
                "face_lpips_tiny": face_lpips,
                "scene_psnr_db": scene_psnr,
                "scene_lpips_tiny": scene_lpips,
                "finetune_s": tune_s,
            }
            rows.append(row)
            print(json.dumps(row), f"({time.perf_counter() - start:.0f} s)", flush=True)
            args.out.mkdir(parents=True, exist_ok=True)  # each row is kept as soon as it exists
            with open(args.out / "results.jsonl", "a") as handle:
                handle.write(json.dumps(row) + "\n")
    _finish(rows, args)
    return 0


def _finish(rows: list[dict], args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _write_table(rows, args, args.out / "results.md")
    _plot(rows, args.out / "pruning.png")
    print(f"wrote {args.out / 'results.csv'}, results.md, pruning.png")


def _write_table(rows: list[dict], args: argparse.Namespace, path: Path) -> None:
    lines = [
        f"weights: {args.weights_note or args.weights}; score {args.score}; latency "
        f"{args.latency_size}² median of {args.repeats}, {args.threads} threads; faces "
        f"{args.face_count} at {args.face_size}², scenes {args.scene_count} at "
        f"{args.scene_size}²; LPIPS = metrics=tiny (random backbone)",
        "",
        "| ratio | fine-tune steps | params | vs full | .pt MB | torch s | ORT fp32 s | "
        "faces PSNR dB | faces LPIPS* | scenes PSNR dB | scenes LPIPS* |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['ratio']:g} | {r['finetune_steps']} | {r['params']:,} | "
            f"{100 * r['params_vs_full']:.0f}% | {r['pt_mb']:.2f} | {r['torch_s']:.2f} | "
            f"{r['ort_s']:.2f} | {r['face_psnr_db']:.2f} | {r['face_lpips_tiny']:.4f} | "
            f"{r['scene_psnr_db']:.2f} | {r['scene_lpips_tiny']:.4f} |"
        )
    path.write_text("\n".join(lines) + "\n")


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_q, ax_t) = plt.subplots(1, 2, figsize=(10, 4))
    for steps, marker, label in [(0, "o", "pruned"), (None, "s", "pruned + fine-tune")]:
        sel = [r for r in rows if r["ratio"] > 0 and ((r["finetune_steps"] == 0) == (steps == 0))]
        if not sel:
            continue
        ratios = [r["ratio"] for r in sel]
        ax_q.plot(ratios, [r["face_psnr_db"] for r in sel], marker=marker, label=f"{label}, faces")
        if not math.isnan(sel[0]["scene_psnr_db"]):
            ax_q.plot(ratios, [r["scene_psnr_db"] for r in sel], marker=marker, linestyle="--",
                      label=f"{label}, scenes")  # fmt: skip
    ax_q.set_xlabel("pruning ratio (share of channels removed per set)")
    ax_q.set_ylabel("PSNR vs unpruned (dB)")
    ax_q.legend(fontsize=8)
    ax_q.grid(alpha=0.3)
    base = [r for r in rows if r["finetune_steps"] == 0]
    ratios = [r["ratio"] for r in base]
    ax_t.plot(ratios, [r["torch_s"] for r in base], marker="o", label="torch eager fp32")
    ax_t.plot(ratios, [r["ort_s"] for r in base], marker="o", label="onnxruntime fp32")
    ax_t2 = ax_t.twinx()
    ax_t2.plot(ratios, [r["params"] / 1e6 for r in base], color="gray", linestyle=":",
               marker="x", label="params (M)")  # fmt: skip
    ax_t2.set_ylabel("parameters (M)")
    ax_t.set_xlabel("pruning ratio")
    ax_t.set_ylabel("CPU latency at 512² (s, median of 5)")
    ax_t.legend(fontsize=8, loc="upper right")
    ax_t.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
