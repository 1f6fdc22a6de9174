"""CPU training runs through the real CLI code path: both phases, artefacts, resume, DDP, errors."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from animegan.cli.train import train
from animegan.models import load_generator

REPO_ROOT = Path(__file__).resolve().parents[2]


def read_metric_names(metrics_csv: Path) -> set[str]:
    with metrics_csv.open() as handle:
        return set(next(csv.reader(handle)))


def test_tiny_run_goes_through_both_phases_and_leaves_artefacts(
    compose_train, tiny_overrides, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    cfg = compose_train(tiny_overrides, run_dir)
    last = train(cfg)

    assert last is not None and last.is_file()
    assert (run_dir / "config_resolved.yaml").is_file()
    assert (run_dir / "samples" / "last.png").is_file()
    assert (run_dir / "samples" / "epoch_000.png").is_file()
    names = read_metric_names(run_dir / "metrics.csv")
    for term in [
        "init_content",
        "d_anime",
        "d_fake",
        "d_gray",
        "d_smooth",
        "d_total",
        "g_adv",
        "content",
        "style",
        "color",
        "tv",
        "g_total",
    ]:
        assert f"loss/{term}_step" in names, f"loss/{term} not logged; got {sorted(names)}"
    for term in ["content", "color", "tv"]:
        assert f"val/{term}" in names

    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert checkpoint["animegan"]["phase"] == "gan"
    assert checkpoint["animegan"]["config"]["name"] == "quickstart"
    assert len(checkpoint["optimizer_states"]) == 3
    assert not any(key.startswith("feature_extractor") for key in checkpoint["state_dict"])
    assert any(key.startswith("discriminator.") for key in checkpoint["state_dict"])
    # Our checkpoints load into a bare Generator.
    generator = load_generator(last)
    assert sum(p.numel() for p in generator.parameters()) == 2_143_552


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


def test_resume_continues_at_the_same_step_and_phase(
    compose_train, tiny_overrides, tmp_path: Path
) -> None:
    """2 epochs (init + GAN) + resume + 2 GAN epochs == 4 epochs straight, bit for bit on CPU."""
    straight = train(
        compose_train([*tiny_overrides, "trainer.max_epochs=4"], tmp_path / "straight")
    )
    first = train(compose_train([*tiny_overrides, "trainer.max_epochs=2"], tmp_path / "first"))
    first_meta = torch.load(first, map_location="cpu", weights_only=True)["animegan"]
    assert first_meta["phase"] == "gan"
    resumed = train(
        compose_train(
            [*tiny_overrides, "trainer.max_epochs=4", f"ckpt_path={first}"], tmp_path / "resumed"
        )
    )
    expected, actual = _final_state(straight), _final_state(resumed)
    assert expected.keys() == actual.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0, msg=key)


def test_missing_dataset_stops_before_training(
    compose_train, tiny_overrides, tmp_path: Path
) -> None:
    missing = tmp_path / "no_such_folder"
    cfg = compose_train(
        [
            *tiny_overrides,
            "data=folders",
            f"data.root={missing}",
            "data.num_workers=0",
            "data.persistent_workers=false",
            "data.pin_memory=false",
        ],
        tmp_path / "run",
    )
    with pytest.raises(FileNotFoundError, match=str(missing)):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    """`trainer=ddp` on gloo with 2 CPU processes trains 2 epochs through the real CLI."""
    cache = tmp_path / "cache"
    command = [
        sys.executable,
        "-m",
        "animegan.cli.train",
        "experiment=quickstart",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.precision=32-true",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=1",
        "trainer.enable_progress_bar=false",
        "module.init_epochs=1",
        "model.vgg.weights=random",
        f"paths.cache_dir={cache}",
        f"data.root={cache / 'quickstart_dataset'}",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_val_images=2",
        "callbacks.sample_grid.num_images=2",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["animegan"]["phase"] == "gan"
    assert (
        "world_size=2" in result.stderr + result.stdout
        or "GLOBAL_RANK: 1" in result.stderr + result.stdout
    )


def test_missing_vgg_weights_stop_before_the_first_step(
    compose_train, tiny_overrides, tmp_path: Path, monkeypatch
) -> None:
    from animegan.models import WeightsNotFoundError, vgg

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch_hub"))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    overrides = [o for o in tiny_overrides if not o.startswith("model.vgg.weights")]
    cfg = compose_train([*overrides, "model.vgg.weights=imagenet"], tmp_path / "run")
    with pytest.raises(WeightsNotFoundError) as error:
        train(cfg)
    message = str(error.value)
    assert vgg.VGG19_FILENAME in message and str(tmp_path / "torch_hub") in message
    assert "model.vgg.weights_path" in message
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_vgg_weights_from_a_local_file(compose_train, tiny_overrides, tmp_path: Path) -> None:
    """A local VGG19 file named in the config is used (random weights saved to a temp file)."""
    from torchvision.models import vgg19

    weights_file = tmp_path / "vgg19-local.pth"
    torch.save(vgg19().state_dict(), weights_file)
    overrides = [o for o in tiny_overrides if not o.startswith("model.vgg.weights")]
    cfg = compose_train(
        [
            *overrides,
            "model.vgg.weights=imagenet",
            f"model.vgg.weights_path={weights_file}",
            "trainer.max_epochs=1",
        ],
        tmp_path / "run",
    )
    assert train(cfg) is not None


def test_bf16_mixed_and_channels_last_switches(
    compose_train, tiny_overrides, tmp_path: Path
) -> None:
    cfg = compose_train(
        [*tiny_overrides, "trainer.precision=bf16-mixed", "module.channels_last=true"],
        tmp_path / "run",
    )
    last = train(cfg)
    state = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
    assert all(torch.isfinite(value).all() for value in state.values() if value.is_floating_point())
