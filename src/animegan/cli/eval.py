"""`make eval CKPT=...` / `python -m animegan.cli.eval ckpt=... [photo_dir=...] [anime_dir=...]`.

Stylizes a photo folder with one checkpoint (ours or an animegan2-pytorch ``.pt``), computes every
metric of the ``metrics`` group with the same :class:`~animegan.evaluation.Evaluator` the training
callback uses, and writes ``metrics.json``, ``per_image.csv``, figures, ``grid.png`` and
``report.md`` / ``report.html``. ``ckpt=[a,b,...]`` (``make compare``) evaluates each on the same
photos and adds ``comparison.*`` (one table, one grid) to the output folder.

Reads top to bottom: value checks, process-wide switches, up-front checks (files, the stored
configs, weights), inputs, evaluation, reports.

A checkpoint is untrusted data: its stored config is never instantiated. Only plain values are
read from it (data folders, sizes, the reference folder; see
:mod:`animegan.utils.stored_config`) and the project's own
:class:`~animegan.data.AnimeGANDataModule` is built from them, reading and caching only under
this command's ``paths.cache_dir``; anything else in it is refused with one line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, ListConfig

from animegan.cli.common import instantiate as _instantiate
from animegan.cli.common import names_config_keys, run_reporting_user_errors
from animegan.cli.validate import check_eval_config
from animegan.data import AnimeGANDataModule
from animegan.data.decode import DatasetNotFoundError
from animegan.data.scan import scan_image_folder
from animegan.evaluation.compare import write_comparison
from animegan.evaluation.evaluator import Evaluator, inputs_from_datamodule
from animegan.evaluation.report import write_report
from animegan.models import load_generator
from animegan.models.weights import WeightsFileError, load_weights_file
from animegan.training.checkpoint_state import CHECKPOINT_FORMAT
from animegan.utils.stored_config import (
    StoredData,
    read_checkpoint_meta,
    read_reference_dir,
    read_stored_data,
)

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
    """The run config stored in one of our checkpoints (None for a plain state_dict).

    The file is read with ``weights_only=True`` and its ``animegan`` section is type-checked;
    the config is returned as plain data, to be read only through
    :mod:`animegan.utils.stored_config`.
    """
    payload = load_weights_file(path, what="checkpoint")
    meta = read_checkpoint_meta(payload, source=str(path), max_format=CHECKPOINT_FORMAT)
    return dict(meta.config) if meta is not None and meta.config is not None else None


def stored_datamodule(data: StoredData, cache_dir: Path, *, source: str) -> AnimeGANDataModule:
    """The project's datamodule for a checkpoint's training data, built from plain values only.

    Nothing is written outside ``cache_dir``: the embedded quickstart set is never rebuilt
    into a folder a checkpoint names, and no transform is taken from it (evaluation only
    center-crops).

    Args:
        data: plain values read from the stored ``data`` section.
        cache_dir: this command's cache folder (scan verdicts).
        source: the checkpoint, for messages.

    Returns:
        An :class:`AnimeGANDataModule` (not set up yet).

    Raises:
        DatasetNotFoundError: the quickstart folder the run used is gone.
    """
    root = Path(data.root).expanduser()
    if data.builtin and not root.is_dir():
        raise DatasetNotFoundError(
            f"the embedded quickstart dataset {root} that {source} was trained on is missing: "
            "rebuild it with `make train` (same paths.cache_dir), or pass photo_dir= and anime_dir="
        )
    return AnimeGANDataModule(
        root=root,
        style=data.style,
        photo_dir=data.photo_dir,
        anime_dir=data.anime_dir,
        val_dir=data.val_dir,
        test_dir=data.test_dir,
        image_size=data.image_size,
        num_val_images=data.num_val_images,
        seed=data.seed,
        cache_dir=cache_dir,
        builtin=False,
    )


def _label(path: Path) -> str:
    if path.parent.name == "checkpoints":
        return f"{path.parent.parent.name}/{path.stem}"
    return path.stem


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _stored_inputs(
    cfg: DictConfig, training_config: dict[str, Any] | None, source: str
) -> tuple[StoredData, str | None] | None:
    """The checkpoint's data settings when the eval config lacks a folder (None when it has both).

    Raises:
        FileNotFoundError: a folder is missing and the checkpoint has no training config.
        StoredConfigError: the stored config holds anything but the expected plain values.
    """
    if cfg.photo_dir is not None and cfg.anime_dir is not None:
        return None
    if training_config is None or "data" not in training_config:
        raise FileNotFoundError(
            "photo_dir= and anime_dir= are required for a checkpoint without a training "
            "config (e.g. an animegan2-pytorch .pt): "
            "make eval CKPT=paprika.pt ARGS='photo_dir=<photos> anime_dir=<anime images>'"
        )
    return read_stored_data(training_config, source=source), read_reference_dir(
        training_config, source=source
    )


def resolve_inputs(
    cfg: DictConfig, training_config: dict[str, Any] | None, source: str = "the checkpoint"
) -> tuple[list[Path], list[Path], dict[str, str]]:
    """Photos and reference anime images to evaluate on, and a description of where they came from.

    Args:
        cfg: the eval config (``photo_dir``, ``anime_dir``, ``paths.cache_dir``).
        training_config: the run config stored in our checkpoint (plain data, never
            instantiated), or None for a ``.pt``.
        source: the checkpoint file, for messages.

    Returns:
        ``(photo_paths, reference_paths, sources)``.

    Raises:
        FileNotFoundError: a folder is needed and cannot be found.
        StoredConfigError: the stored config is refused (see :mod:`animegan.utils.stored_config`).
    """
    cache_dir = Path(cfg.paths.cache_dir).expanduser()
    photos: list[Path] = []
    references: list[Path] = []
    sources: dict[str, str] = {}
    stored = _stored_inputs(cfg, training_config, source)
    if stored is not None:
        data, reference_dir = stored
        datamodule = stored_datamodule(data, cache_dir, source=source)
        photos, references = inputs_from_datamodule(datamodule, reference_dir)
        sources = {
            "photos": "validation subset of the checkpoint's training data",
            "references": reference_dir or "the checkpoint's training anime",
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


def _load_generators(paths: list[Path], device: torch.device) -> list[torch.nn.Module]:
    """Every checkpoint's generator; a file without a fitting generator is one clear error."""
    generators = []
    for path in paths:
        try:
            generators.append(load_generator(path, map_location=device))
        except WeightsFileError:
            raise
        except ValueError as error:  # no generator weights, or another layout
            raise WeightsFileError(str(error)) from error
    return generators


@names_config_keys
def evaluate(cfg: DictConfig) -> dict[str, Path]:
    """Run the evaluation described by ``cfg``; returns the files written (name → path)."""
    check_eval_config(cfg)
    torch.set_float32_matmul_precision(cfg.matmul_precision)
    output_dir = Path(cfg.output_dir)
    checkpoints = _checkpoint_paths(cfg.ckpt)
    labels = list(cfg.labels) if cfg.labels is not None else [_label(p) for p in checkpoints]
    if len(labels) != len(checkpoints):
        raise ValueError(f"labels has {len(labels)} names for {len(checkpoints)} checkpoints")
    device = _device(cfg.device)

    # Checkpoint files and their stored configs first (plain values, type-checked): an
    # unreadable file or a refused config stops before any weights are loaded.
    configs = [_training_config(path) for path in checkpoints]
    first = next((i for i, c in enumerate(configs) if c is not None), None)
    first_config = configs[first] if first is not None else None
    source = str(checkpoints[first]) if first is not None else str(checkpoints[0])
    _stored_inputs(cfg, first_config, source)

    # Weights next: a missing Inception/LPIPS file stops before any stylization.
    evaluator = (
        _instantiate(cfg.metrics, _convert_="all")
        if cfg.metrics is not None
        else Evaluator(image_size=256, num_grid_images=8)
    )
    generators = _load_generators(checkpoints, device)
    photos, references, sources = resolve_inputs(cfg, first_config, source)
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
    """Hydra entry point of ``python -m animegan.cli.eval`` (``make eval``)."""
    run_reporting_user_errors(evaluate, cfg)


if __name__ == "__main__":
    main()
