"""Shared fixtures: config composition and tiny-run overrides (all CPU, all offline)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
BENCHMARKS = REPO_ROOT / "benchmarks"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    skip_shared = pytest.mark.skip(reason=f"{SHARED_DATA} is absent")
    for item in items:
        if item.get_closest_marker("gpu") is not None and not torch.cuda.is_available():
            item.add_marker(skip_gpu)
        if item.get_closest_marker("shared_data") is not None and not SHARED_DATA.is_dir():
            item.add_marker(skip_shared)


@pytest.fixture
def compose_train() -> Iterator[Callable[..., DictConfig]]:
    """Compose ``conf/train.yaml`` with overrides, outside a Hydra app (no ``hydra:`` resolver)."""

    def _compose(overrides: list[str], output_dir: Path, config_name: str = "train") -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
        return cfg

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def tiny_overrides(tmp_path: Path) -> list[str]:
    """Overrides for a seconds-long CPU run on the embedded dataset at 32² (2 epochs, 1 batch each)."""
    return [
        "experiment=quickstart",
        "model.vgg.weights=random",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"data.root={tmp_path / 'cache' / 'quickstart_dataset'}",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_val_images=2",
        "callbacks.sample_grid.num_images=2",
        "trainer.limit_train_batches=1",
        "trainer.max_epochs=2",
        "module.init_epochs=1",
        # The quickstart logs every 10 steps and checkpoints every 2 epochs; tiny runs need both.
        "trainer.log_every_n_steps=1",
        "callbacks.checkpoint.every_n_epochs=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
    ]


@pytest.fixture
def load_benchmark() -> Iterator[Callable[[str], ModuleType]]:
    """Import ``benchmarks/<name>.py`` as module ``name`` (in ``sys.modules`` during the test:
    dataclasses, and scripts importing each other, look their modules up there)."""
    loaded: list[str] = []

    def _load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield _load
    for name in loaded:
        sys.modules.pop(name, None)


@pytest.fixture
def unpaired_folder(tmp_path: Path) -> Callable[..., Path]:
    """``make(count, height=40, width=48)``: a dataset root with ``photo/`` and ``anime/`` holding
    ``count`` random-noise JPEGs each (the plain-folders layout of ``data=folders``)."""

    def _make(count: int, height: int = 40, width: int = 48) -> Path:
        from PIL import Image

        root = tmp_path / "unpaired"
        rng = np.random.default_rng(0)
        for domain in ("photo", "anime"):
            (root / domain).mkdir(parents=True)
            for index in range(count):
                pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / domain / f"{index}.jpg")
        return root

    return _make


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread for a module of tiny-image tests (``pytestmark = usefixtures(...)``).

    On a busy 2-core machine, thread hand-off stalls make tiny forwards far slower with several
    threads than with one. Restored afterwards.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
