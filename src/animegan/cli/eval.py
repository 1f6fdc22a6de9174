"""`make eval CKPT=...` / `python -m animegan.cli.eval ckpt=... [photo_dir=...] [anime_dir=...]`.

Stylizes a photo folder with one checkpoint (ours or an animegan2-pytorch ``.pt``), computes every
metric of the ``metrics`` group with the same :class:`~animegan.evaluation.Evaluator` the training
callback uses, and writes ``metrics.json``, ``per_image.csv``, figures, ``grid.png`` and
``report.md`` / ``report.html``. ``ckpt=[a,b,...]`` (``make compare``) evaluates each on the same
photos and adds ``comparison.*`` (one table, one grid) to the output folder.

Reads top to bottom: process-wide switches, up-front checks (files, weights), inputs, evaluation,
reports.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from animegan.cli.common import instantiate as _instantiate
from animegan.cli.common import run_reporting_user_errors
from animegan.data.decode import scan_image_folder
from animegan.evaluation.compare import write_comparison
from animegan.evaluation.evaluator import Evaluator, inputs_from_datamodule
from animegan.evaluation.report import write_report
from animegan.models import load_generator

log = logging.getLogger(__name__)


def _checkpoint_paths(ckpt: Any) -> list[Path]:
    paths = [Path(str(p)) for p in ckpt] if isinstance(ckpt, ListConfig | list) else [Path(ckpt)]
    if not paths:
        raise FileNotFoundError("ckpt=[] names no checkpoint")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"checkpoint {path} does not exist; pass ckpt=<run>/checkpoints/last.ckpt (ours) "
                "or a generator .pt (e.g. face_paint_512_v2.pt from bryandlee/animegan2-pytorch)"
            )
    return paths


def _training_config(path: Path) -> dict[str, Any] | None:
    """The resolved run config stored in one of our checkpoints (None for a plain state_dict)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    meta = payload.get("animegan") if isinstance(payload, dict) else None
    return meta.get("config") if isinstance(meta, dict) else None


def _label(path: Path) -> str:
    if path.parent.name == "checkpoints":
        return f"{path.parent.parent.name}/{path.stem}"
    return path.stem


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_inputs(
    cfg: DictConfig, training_config: dict[str, Any] | None
) -> tuple[list[Path], list[Path], dict[str, str]]:
    """Photos and reference anime images to evaluate on, and a description of where they came from.

    Args:
        cfg: the eval config (``photo_dir``, ``anime_dir``, ``paths.cache_dir``).
        training_config: the run config stored in our checkpoint, or None for a ``.pt``.

    Returns:
        ``(photo_paths, reference_paths, sources)``.
    """
    cache_dir = Path(cfg.paths.cache_dir).expanduser()
    photos: list[Path] = []
    references: list[Path] = []
    sources: dict[str, str] = {}
    if cfg.photo_dir is None or cfg.anime_dir is None:
        if training_config is None or "data" not in training_config:
            raise FileNotFoundError(
                "photo_dir= and anime_dir= are required for a checkpoint without a training "
                "config (e.g. an animegan2-pytorch .pt): "
                "make eval CKPT=paprika.pt ARGS='photo_dir=<photos> anime_dir=<anime images>'"
            )
        datamodule = _instantiate(OmegaConf.create(training_config["data"]), _convert_="all")
        evaluation = (training_config.get("callbacks") or {}).get("evaluation") or {}
        photos, references = inputs_from_datamodule(datamodule, evaluation.get("reference_dir"))
        sources = {
            "photos": "validation subset of the checkpoint's training data",
            "references": evaluation.get("reference_dir") or "the checkpoint's training anime",
        }
    if cfg.photo_dir is not None:
        photos = scan_image_folder(cfg.photo_dir, cache_dir, role="photos").paths
        sources["photos"] = str(cfg.photo_dir)
    if cfg.anime_dir is not None:
        references = scan_image_folder(
            cfg.anime_dir, cache_dir, role="reference anime images"
        ).paths
        sources["references"] = str(cfg.anime_dir)
    return photos, references, sources


def evaluate(cfg: DictConfig) -> dict[str, Path]:
    """Run the evaluation described by ``cfg``; returns the files written (name → path)."""
    torch.set_float32_matmul_precision(cfg.matmul_precision)
    output_dir = Path(cfg.output_dir)
    checkpoints = _checkpoint_paths(cfg.ckpt)
    labels = list(cfg.labels) if cfg.labels is not None else [_label(p) for p in checkpoints]
    if len(labels) != len(checkpoints):
        raise ValueError(f"labels has {len(labels)} names for {len(checkpoints)} checkpoints")
    device = _device(cfg.device)

    # Weights first: a missing Inception/LPIPS file stops before any stylization.
    evaluator = (
        _instantiate(cfg.metrics, _convert_="all")
        if cfg.metrics is not None
        else Evaluator(image_size=256, num_grid_images=8)
    )
    generators = [load_generator(path, map_location=device) for path in checkpoints]
    configs = [_training_config(path) for path in checkpoints]
    first_config = next((c for c in configs if c is not None), None)
    photos, references, sources = resolve_inputs(cfg, first_config)
    log.info("evaluating %d checkpoint(s) on %d photos", len(checkpoints), len(photos))

    files: dict[str, Path] = {}
    results = []
    for path, label, generator in zip(checkpoints, labels, generators, strict=True):
        result = evaluator.evaluate(generator, photos, references, device=device)
        results.append(result)
        folder = output_dir if len(checkpoints) == 1 else output_dir / label.replace("/", "_")
        run_csv = path.parent.parent / "metrics.csv" if path.parent.name == "checkpoints" else None
        written = write_report(
            result,
            folder,
            title=f"Evaluation of {label}",
            extra={"checkpoint": str(path), "label": label, **sources},
            training_metrics_csv=run_csv,
        )
        summary = ", ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
        log.info("%s: %s", label, summary or "(no metrics configured)")
        files |= {f"{label}:{name}": file for name, file in written.items()}
    if len(checkpoints) > 1:
        files |= {
            f"comparison:{name}": file
            for name, file in write_comparison(labels, results, output_dir).items()
        }
    log.info("report written to %s", output_dir)
    return files


@hydra.main(version_base="1.3", config_path="../../../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    run_reporting_user_errors(evaluate, cfg)


if __name__ == "__main__":
    main()
