"""Every bad file or value gives one clear line and exit code 2, never a traceback, and stops
before any data is scanned or weights are loaded."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from animegan.cli.common import run_reporting_user_errors
from animegan.cli.eval import evaluate
from animegan.cli.stylize import main as stylize_main
from animegan.cli.train import train
from animegan.models import Generator, export_state_dict, load_generator
from animegan.models.weights import WeightsFileError

REPO_ROOT = Path(__file__).resolve().parents[2]
# Torch's advice for a refused pickle: following it runs whatever code the file holds.
TORCH_ADVICE = ("weights_only=False", "weights_only` set to `False", "will likely succeed")


@pytest.fixture(scope="module")
def generator_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    torch.manual_seed(0)
    path = export_state_dict(Generator(), tmp_path_factory.mktemp("g") / "g.pt")
    return path.read_bytes()


BAD_FILES = {
    "empty": (lambda good: b"", "is empty (0 bytes)"),
    "truncated": (lambda good: good[: len(good) // 2], "is truncated or corrupt"),
    "cut_at_10_bytes": (lambda good: good[:10], "is truncated or corrupt"),
    "text": (lambda good: b"<html>not found</html>\n", "is not a PyTorch weight file"),
    "random_bytes": (
        lambda good: np.random.default_rng(0).bytes(4096),
        "is not a PyTorch weight file",
    ),
}


def bad_file(tmp_path: Path, kind: str, good: bytes, suffix: str = ".pt") -> tuple[Path, str]:
    make, message = BAD_FILES[kind]
    path = tmp_path / f"{kind}{suffix}"
    path.write_bytes(make(good))
    return path, message


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert not any(advice in lines[0] for advice in TORCH_ADVICE), lines[0]
    return lines[0]


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_load_generator_names_the_problem_in_one_sentence(
    tmp_path: Path, generator_bytes: bytes, kind: str
) -> None:
    path, message = bad_file(tmp_path, kind, generator_bytes)
    with pytest.raises(WeightsFileError, match=re.escape(message)) as info:
        load_generator(path)
    text = str(info.value)
    assert str(path) in text and "\n" not in text
    assert not any(advice in text for advice in TORCH_ADVICE)


def test_a_pickled_object_is_refused_without_torchs_advice(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pt"
    torch.save({"state_dict": {"x": os.getcwd}}, path)
    with pytest.raises(WeightsFileError, match="refused it without running any code") as info:
        load_generator(path)
    assert "getcwd" in str(info.value)
    assert not any(advice in str(info.value) for advice in TORCH_ADVICE)


@pytest.mark.parametrize("kind", ["empty", "truncated", "text"])
def test_stylize_exits_2_with_one_line(
    tmp_path: Path, generator_bytes: bytes, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photo)
    weights, message = bad_file(tmp_path, kind, generator_bytes)
    out = tmp_path / "out"
    code = stylize_main([str(photo), "--weights", str(weights), "--out", str(out)])
    assert code == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not out.exists() or not any(out.iterdir())


def compose_eval(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="eval", overrides=overrides)
    GlobalHydra.instance().clear()
    return cfg


@pytest.mark.parametrize("kind", ["empty", "truncated", "random_bytes"])
def test_eval_exits_2_with_one_line_before_loading_metrics(
    tmp_path: Path, generator_bytes: bytes, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt, message = bad_file(tmp_path, kind, generator_bytes, suffix=".ckpt")
    cfg = compose_eval(
        [
            f"ckpt='{ckpt}'",
            "metrics=tiny",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"output_dir={tmp_path / 'out'}",
        ]
    )
    with pytest.raises(SystemExit) as info:
        run_reporting_user_errors(evaluate, cfg)
    assert info.value.code == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "cache").exists()  # no metric network built, no data scanned


def test_eval_of_a_file_without_generator_weights_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "other.pt"
    torch.save({"encoder.weight": torch.zeros(2)}, ckpt)
    cfg = compose_eval(
        [
            f"ckpt='{ckpt}'",
            f"photo_dir={tmp_path}",
            f"anime_dir={tmp_path}",
            "metrics=tiny",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"output_dir={tmp_path / 'out'}",
        ]
    )
    with pytest.raises(SystemExit) as info:
        run_reporting_user_errors(evaluate, cfg)
    assert info.value.code == 2
    assert "holds no generator weights" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("kind", ["empty", "truncated", "text"])
def test_resume_from_a_bad_checkpoint_stops_before_anything_is_built(
    compose_train,
    tiny_overrides,
    tmp_path: Path,
    generator_bytes: bytes,
    kind: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ckpt, message = bad_file(tmp_path, kind, generator_bytes, suffix=".ckpt")
    cfg = compose_train([*tiny_overrides, f"ckpt_path={ckpt}"], tmp_path / "run")
    with pytest.raises(SystemExit) as info:
        run_reporting_user_errors(train, cfg)
    assert info.value.code == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_resume_from_a_published_generator_file_is_refused(
    compose_train, tiny_overrides, tmp_path: Path, generator_bytes: bytes
) -> None:
    weights = tmp_path / "face_paint.pt"
    weights.write_bytes(generator_bytes)
    cfg = compose_train([*tiny_overrides, f"ckpt_path={weights}"], tmp_path / "run")
    with pytest.raises(ValueError, match="not a training checkpoint of this repository"):
        train(cfg)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_epochs=abc", "trainer.max_epochs='abc'"),
        ("module.generator_optimizer.lr=0", "module.generator_optimizer.lr=0"),
        ("module.discriminator_optimizer.lr=-4e-5", "module.discriminator_optimizer.lr=-4e-05"),
        ("data.batch_size=abc", "data.batch_size='abc'"),
    ],
)
def test_bad_values_stop_training_before_the_data_is_scanned(
    compose_train,
    tiny_overrides,
    tmp_path: Path,
    override: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = compose_train([*tiny_overrides, override], tmp_path / "run")
    with pytest.raises(SystemExit) as info:
        run_reporting_user_errors(train, cfg)
    assert info.value.code == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "cache").exists()  # the quickstart set was not even built


def test_train_cli_bad_value_is_exit_2_without_traceback(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "animegan.cli.train",
            "trainer.max_epochs=abc",
            f"paths.cache_dir={cache}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "trainer.max_epochs='abc'" in one_error_line(result.stderr)
    assert not cache.exists()
