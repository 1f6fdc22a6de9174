"""End-to-end runs of `animegan prune`, then `stylize` and `export` of its output (CPU, tiny)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from animegan.cli.main import main as animegan_main
from animegan.models import Generator, count_parameters, export_state_dict, load_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return export_state_dict(Generator(), tmp_path_factory.mktemp("w") / "generator.pt")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (36, 44, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_prune_then_stylize_and_export(
    weights: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pruned.pt"
    code = animegan_main(
        ["prune", "--weights", str(weights), "--out", str(out), "--ratio", "0.5",
         "--finetune-steps", "2", "--photos", str(photos), "--finetune-size", "16",
         "--finetune-batch", "1", "--eval-photos", str(photos), "--eval-size", "16"]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "fewer" in printed and "fine-tuned 2 steps" in printed and "PSNR" in printed
    pruned = load_generator(out)
    assert count_parameters(pruned) < 0.35 * 2_143_552
    styled = tmp_path / "styled"
    assert animegan_main(["stylize", str(photos), "--weights", str(out), "--out", str(styled),
                          "--no-progress", "--threads", "1"]) == 0  # fmt: skip
    assert len(list(styled.iterdir())) == 3
    onnx_path = tmp_path / "pruned.onnx"
    assert animegan_main(["export", "--weights", str(out), "--out", str(onnx_path),
                          "--parity-sizes", "33x47"]) == 0  # fmt: skip
    assert onnx_path.is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ratio", "1.0"], "--ratio must be in [0, 1)"),
        (["--ratio", "0.3", "--finetune-steps", "5"], "--finetune-steps needs --photos"),
        (["--ratio", "0.3", "--weights", "missing.pt"], "does not exist"),
    ],
)
def test_prune_usage_errors_write_nothing(
    weights: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "pruned.pt"
    code = animegan_main(["prune", "--weights", str(weights), "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_prune_keeps_an_existing_output_and_the_source(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pruned.pt"
    out.write_bytes(b"mine")
    args = ["prune", "--weights", str(weights), "--ratio", "0.2"]
    assert animegan_main([*args, "--out", str(out)]) == 2
    assert out.read_bytes() == b"mine"
    source = weights.read_bytes()
    assert animegan_main([*args, "--out", str(weights), "--overwrite"]) == 2
    assert weights.read_bytes() == source
    assert "--overwrite" in capsys.readouterr().err


def test_prune_refuses_a_file_without_generator_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "bogus.pt"
    torch.save({"something": torch.zeros(3)}, bogus)
    code = animegan_main(["prune", "--weights", str(bogus), "--out", str(tmp_path / "o.pt"),
                          "--ratio", "0.2"])  # fmt: skip
    assert code == 2 and "no generator weights" in capsys.readouterr().err
