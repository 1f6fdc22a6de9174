"""`make eval` / `make compare` treat a checkpoint's stored config as data: crafted checkpoints
whose config names a file-writing `_target_` write nothing and are refused with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from animegan.cli.eval import evaluate
from animegan.models import Generator, export_state_dict
from animegan.utils.stored_config import StoredConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


def compose_eval(overrides: list[str]) -> Any:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="eval", overrides=overrides)
    GlobalHydra.instance().clear()
    return cfg


def write_spec(target: str, written: Path, existing: Path) -> dict[str, Any]:
    """A Hydra spec that, if instantiated, writes ``written``."""
    return {
        "builtins.open": {"_target_": "builtins.open", "file": str(written), "mode": "w"},
        "numpy.savetxt": {"_target_": "numpy.savetxt", "fname": str(written), "X": [1.0, 2.0]},
        "shutil.copyfile": {
            "_target_": "shutil.copyfile",
            "src": str(existing),
            "dst": str(written),
        },
        "torch.save": {"_target_": "torch.save", "obj": [1, 2], "f": str(written)},
    }[target]


def crafted_checkpoint(path: Path, data: Any, extra: dict[str, Any] | None = None) -> Path:
    """A checkpoint of our layout (loads with weights_only=True) with the given stored data."""
    torch.manual_seed(0)
    state = {f"generator.{k}": v for k, v in Generator().state_dict().items()}
    config = {"name": "crafted", "data": data, **(extra or {})}
    payload = {
        "state_dict": state,
        "animegan": {"format": 1, "phase": "gan", "init_epochs": 1, "config": config},
    }
    torch.save(payload, path)
    torch.load(path, weights_only=True)
    return path


def valid_data(root: Path) -> dict[str, Any]:
    return {
        "_target_": "animegan.data.AnimeGANDataModule",
        "root": str(root),
        "builtin": False,
        "image_size": 32,
        "num_val_images": 2,
        "seed": 0,
    }


TARGETS = ["builtins.open", "numpy.savetxt", "shutil.copyfile", "torch.save"]


@pytest.mark.parametrize("placement", ["data", "data.root", "reference_dir"])
@pytest.mark.parametrize("target", TARGETS)
def test_eval_never_instantiates_a_checkpoints_config(
    tmp_path: Path, target: str, placement: str
) -> None:
    written = tmp_path / "written.txt"
    existing = tmp_path / "existing.txt"
    existing.write_text("a file of the user")
    spec = write_spec(target, written, existing)
    extra = None
    if placement == "data":
        data = spec
    elif placement == "data.root":
        data = valid_data(tmp_path / "dataset") | {"root": spec}
    else:
        data = valid_data(tmp_path / "dataset")
        extra = {"callbacks": {"evaluation": {"reference_dir": spec}}}
    ckpt = crafted_checkpoint(tmp_path / "crafted.ckpt", data, extra)
    out = tmp_path / "out"
    cfg = compose_eval(
        [
            f"ckpt='{ckpt}'",
            "metrics=tiny",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"output_dir={out}",
        ]
    )
    with pytest.raises(StoredConfigError, match=target.replace(".", r"\.")) as info:
        evaluate(cfg)
    assert "\n" not in str(info.value)
    assert not written.exists()
    assert not out.exists() and not (tmp_path / "cache").exists()
    assert existing.read_text() == "a file of the user"


def test_compare_refuses_a_crafted_checkpoint_among_others(tmp_path: Path) -> None:
    """`make compare`: the config of the first checkpoint that has one is read, as data."""
    written = tmp_path / "written.npy"
    plain = export_state_dict(Generator(), tmp_path / "plain.pt")  # no stored config
    ckpt = crafted_checkpoint(
        tmp_path / "crafted.ckpt", write_spec("numpy.savetxt", written, tmp_path)
    )
    cfg = compose_eval(
        [
            f"ckpt=['{plain}','{ckpt}']",
            "metrics=tiny",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"output_dir={tmp_path / 'out'}",
        ]
    )
    with pytest.raises(StoredConfigError, match="crafted.ckpt.*numpy.savetxt"):
        evaluate(cfg)
    assert not written.exists()


def test_eval_with_explicit_folders_does_not_read_the_stored_data(tmp_path: Path) -> None:
    """With photo_dir and anime_dir the stored config is not needed, so not even checked."""
    import numpy as np
    from PIL import Image

    for name, seed in (("photos", 1), ("anime", 2)):
        (tmp_path / name).mkdir()
        rng = np.random.default_rng(seed)
        for index in range(3):
            pixels = rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{index}.png")
    written = tmp_path / "written.txt"
    ckpt = crafted_checkpoint(
        tmp_path / "crafted.ckpt", write_spec("builtins.open", written, tmp_path)
    )
    out = tmp_path / "out"
    evaluate(
        compose_eval(
            [
                f"ckpt='{ckpt}'",
                f"photo_dir={tmp_path / 'photos'}",
                f"anime_dir={tmp_path / 'anime'}",
                "metrics=tiny",
                "metrics.image_size=32",
                f"paths.cache_dir={tmp_path / 'cache'}",
                f"output_dir={out}",
            ]
        )
    )
    assert (out / "metrics.json").is_file()
    assert not written.exists()


def test_eval_does_not_build_the_quickstart_set_where_a_checkpoint_says(tmp_path: Path) -> None:
    target = tmp_path / "somewhere"
    data = valid_data(target) | {"builtin": True}
    ckpt = crafted_checkpoint(tmp_path / "quick.ckpt", data)
    cfg = compose_eval(
        [
            f"ckpt='{ckpt}'",
            "metrics=tiny",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"output_dir={tmp_path / 'out'}",
        ]
    )
    with pytest.raises(FileNotFoundError, match="quickstart dataset .* is missing"):
        evaluate(cfg)
    assert not target.exists()


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_eval_cli_refuses_a_crafted_checkpoint_with_exit_code_2(tmp_path: Path) -> None:
    written = tmp_path / "written.pt"
    ckpt = crafted_checkpoint(
        tmp_path / "crafted.ckpt", write_spec("torch.save", written, tmp_path)
    )
    result = run_cli(
        [
            "animegan.cli.eval",
            f"ckpt='{ckpt}'",
            "metrics=tiny",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"hydra.run.dir={tmp_path / 'out'}",
        ],
        tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "torch.save" in errors[0] and "photo_dir=" in errors[0]
    assert not written.exists()
