"""Training callbacks that write artefacts into the run folder.

Sample grids, the resolved config and checkpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from animegan.utils.images import save_comparison_grid

log = logging.getLogger(__name__)


class SampleGridCallback(L.Callback):
    """Stylize a fixed set of photos and save a ``photo | stylized`` grid PNG.

    The photos come from the datamodule's ``fixed_photos(num_images)`` (a deterministic validation
    subset), so grids of different epochs and runs show the same inputs.

    Args:
        dirpath: folder for the PNGs (``epoch_XXX.png`` and ``last.png``).
        num_images: photos per grid (rows), 1–64.
        every_n_epochs: write a grid after every n-th training epoch (and always at the end).
    """

    def __init__(self, dirpath: str | Path, num_images: int = 8, every_n_epochs: int = 1) -> None:
        if not 1 <= num_images <= 64:
            raise ValueError(f"num_images must be in [1, 64], got {num_images}")
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.dirpath = Path(dirpath)
        self.num_images = num_images
        self.every_n_epochs = every_n_epochs
        self._photos: Tensor | None = None

    def _fixed_photos(self, trainer: L.Trainer) -> Tensor:
        if self._photos is None:
            datamodule = trainer.datamodule
            if datamodule is None or not hasattr(datamodule, "fixed_photos"):
                raise RuntimeError(
                    "SampleGridCallback needs a datamodule with fixed_photos(n); "
                    "remove callbacks.sample_grid or use animegan.data.AnimeGANDataModule"
                )
            self._photos = datamodule.fixed_photos(self.num_images)
        return self._photos

    @torch.no_grad()
    def _write(self, trainer: L.Trainer, pl_module: L.LightningModule, name: str) -> Path:
        photos = self._fixed_photos(trainer).to(pl_module.device)
        generator = pl_module.generator
        was_training = generator.training
        generator.eval()
        fakes = torch.cat([generator(photo[None]) for photo in photos])
        generator.train(was_training)
        path = self.dirpath / name
        save_comparison_grid([photos.cpu(), fakes.float().cpu()], path)
        return path

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        if (epoch + 1) % self.every_n_epochs == 0:
            path = self._write(trainer, pl_module, f"epoch_{epoch:03d}.png")
            log.info("sample grid written to %s", path)

    @rank_zero_only
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        path = self._write(trainer, pl_module, "last.png")
        log.info("final sample grid written to %s", path)


class SaveConfigCallback(L.Callback):
    """Write the resolved run configuration (and the data description) into the run folder.

    Args:
        path: YAML file to write (``<run dir>/config_resolved.yaml``).
        config: the resolved configuration as a plain mapping.
    """

    def __init__(self, path: str | Path, config: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.config = dict(config)

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        payload = dict(self.config)
        datamodule = trainer.datamodule
        if datamodule is not None and hasattr(datamodule, "describe"):
            payload["data_description"] = datamodule.describe()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(yaml.safe_dump(payload, sort_keys=False))


class RunCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` for resumable run folders: ``last.ckpt`` is always the latest state.

    Lightning's own callback restores the paths it remembers only when the run folder has not
    moved; resuming a copied (or moved) run folder therefore wrote ``last-v1.ckpt`` beside the
    stale ``last.ckpt``, and a later resume from ``last.ckpt`` rolled training back. On resume
    this callback adopts the folder's existing ``last.ckpt`` as its own, so it is overwritten.
    Epoch checkpoints keep Lightning's version counter (``epoch001-v1.ckpt``): resuming from an
    older epoch in the same folder never replaces a file of the earlier run.

    Paths read from a checkpoint are untrusted (Lightning may delete the previous "last" or a
    dropped top-k file): only paths inside this callback's own ``dirpath`` are kept.

    Args:
        **kwargs: as :class:`lightning.pytorch.callbacks.ModelCheckpoint`.
    """

    def _inside_dirpath(self, path: Any) -> bool:
        if not isinstance(path, str) or not path or self.dirpath is None:
            return False
        folder = Path(self.dirpath).absolute()
        return folder in Path(path).absolute().parents

    def _own_last_file(self) -> str:
        """This folder's ``last.ckpt`` when it exists (the file a resume must overwrite)."""
        if self.dirpath is None:
            return ""
        path = self.format_checkpoint_name({}, self.CHECKPOINT_NAME_LAST)
        return path if Path(path).is_file() else ""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.best_k_models = {
            path: score for path, score in self.best_k_models.items() if self._inside_dirpath(path)
        }
        if not self._inside_dirpath(self.kth_best_model_path):
            self.kth_best_model_path = ""
        if not self._inside_dirpath(self.best_model_path):
            self.best_model_path = ""
        self.last_model_path = self._own_last_file()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Also when the checkpoint held no state for this callback (another class wrote it).
        if trainer.ckpt_path is not None and not self.last_model_path:
            self.last_model_path = self._own_last_file()
        super().on_train_start(trainer, pl_module)
