"""Bit-exact resume with random augmentation: non-square images, augmentation=full, 2 workers.

Random crops of non-square images, flips, affine, colour jitter, erasing and the independent
smoothed-anime stream are all drawn per sample from (seed, epoch, index), so 2 epochs straight and
1 epoch + resume (from last.ckpt, or from a checkpoint taken in the middle of epoch 2) end with
the same G, D and optimizer state, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import open_dict
from PIL import Image

from animegan.cli.train import train

# Global steps count optimizer steps: epoch 0 (init) has 3 batches = 3 steps, epoch 1 (GAN)
# 2 steps per batch; step 5 is the end of the first GAN batch, one third into epoch 1.
MID_EPOCH_STEP = 5


def _non_square_dataset(root: Path, count: int = 6) -> Path:
    rng = np.random.default_rng(0)
    for domain in ("photo", "anime"):
        (root / domain).mkdir(parents=True)
        for index in range(count):
            # 96x70 (W x H) smooth-ish images: resized to 43x32, the 32² crop really moves.
            base = rng.integers(0, 256, (7, 10, 3), dtype=np.uint8)
            image = Image.fromarray(base).resize((96, 70), Image.Resampling.BILINEAR)
            image.save(root / domain / f"{index}.png")
    return root


def _overrides(tmp_path: Path, data_root: Path) -> list[str]:
    return [
        "experiment=quickstart",
        "data=folders",
        f"data.root={data_root}",
        "augmentation=full",
        "data.num_workers=2",
        "data.persistent_workers=true",
        "data.pin_memory=false",
        "model.vgg.weights=random",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_val_images=2",
        "metrics=none",
        "callbacks.sample_grid.num_images=2",
        "trainer.limit_train_batches=null",
        "module.init_epochs=1",
        "callbacks.checkpoint.every_n_epochs=1",  # the quickstart checkpoints every 2 epochs
        "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
    ]


def _final_state(checkpoint_path: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    state = dict(checkpoint["state_dict"])
    for index, optimizer_state in enumerate(checkpoint["optimizer_states"]):
        for param_id, param_state in optimizer_state["state"].items():
            for name, value in param_state.items():
                state[f"optimizer{index}.{param_id}.{name}"] = torch.as_tensor(value)
    state["global_step"] = torch.tensor(checkpoint["global_step"])
    state["epoch"] = torch.tensor(checkpoint["epoch"])
    return state


def _assert_bit_equal(actual_path: Path, expected_path: Path) -> None:
    expected, actual = _final_state(expected_path), _final_state(actual_path)
    assert expected.keys() == actual.keys()
    assert any(key.startswith("discriminator.") for key in expected)
    assert any(key.startswith("optimizer2.") for key in expected)  # D's Adam state
    differing = [key for key in expected if not torch.equal(actual[key], expected[key])]
    assert not differing, f"{len(differing)} tensors differ after resume, e.g. {differing[:5]}"


@pytest.mark.slow
def test_resume_is_bit_exact_with_random_augmentation(compose_train, tmp_path: Path) -> None:
    data_root = _non_square_dataset(tmp_path / "data")
    overrides = _overrides(tmp_path, data_root)

    straight_cfg = compose_train([*overrides, "trainer.max_epochs=2"], tmp_path / "straight")
    with open_dict(straight_cfg):
        straight_cfg.callbacks.mid_epoch = {
            "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
            "dirpath": str(tmp_path / "straight" / "mid"),
            "filename": "step{step:03d}",
            "auto_insert_metric_name": False,
            "every_n_train_steps": MID_EPOCH_STEP,
            "save_top_k": -1,
        }
    straight = train(straight_cfg)
    (mid,) = sorted((tmp_path / "straight" / "mid").glob("*.ckpt"))
    mid_meta = torch.load(mid, map_location="cpu", weights_only=True)
    assert mid_meta["global_step"] == MID_EPOCH_STEP and mid_meta["epoch"] == 1

    # (a) one epoch, then resume from its last.ckpt to two epochs.
    first = train(compose_train([*overrides, "trainer.max_epochs=1"], tmp_path / "first"))
    assert first is not None and first.name == "last.ckpt"
    resumed = train(
        compose_train(
            [*overrides, "trainer.max_epochs=2", f"ckpt_path={first}"], tmp_path / "resumed"
        )
    )
    _assert_bit_equal(resumed, straight)

    # (b) resume from the checkpoint taken after the first batch of epoch 1.
    resumed_mid = train(
        compose_train(
            [*overrides, "trainer.max_epochs=2", f"ckpt_path={mid}"], tmp_path / "resumed_mid"
        )
    )
    _assert_bit_equal(resumed_mid, straight)
