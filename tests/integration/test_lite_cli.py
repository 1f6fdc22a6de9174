"""The lite generator through the real CLIs: one training step, stylize (with
--match-brightness), export to ONNX with parity and INT8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from animegan.cli.main import main as animegan_main
from animegan.cli.train import train
from animegan.inference import mean_luma
from animegan.models import GeneratorLite, export_state_dict, load_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def lite_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return export_state_dict(GeneratorLite(), tmp_path_factory.mktemp("w") / "lite.pt")


def test_lite_trains_with_the_same_module(compose_train, tiny_overrides, tmp_path: Path) -> None:
    """model=animeganv2_lite: one init and one GAN epoch of one batch through cli.train."""
    run_dir = tmp_path / "run"
    last = train(compose_train([*tiny_overrides, "model=animeganv2_lite"], run_dir))
    assert last is not None and last.is_file()
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert checkpoint["animegan"]["phase"] == "gan"
    assert checkpoint["animegan"]["config"]["model"]["generator"]["_target_"].endswith(
        "GeneratorLite"
    )
    generator = load_generator(last)
    assert type(generator) is GeneratorLite
    assert sum(p.numel() for p in generator.parameters()) == 698_240
    # It trained: the weights moved away from any fresh initialisation's layer-norm affine.
    assert not torch.equal(generator.stem[2].weight, torch.ones(32))


def test_stylize_lite_with_match_brightness(lite_weights: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    big = rng.integers(20, 90, (40, 70, 3), dtype=np.uint8)  # tiled at --tile 32
    Image.fromarray(big).save(photos / "big.png")
    Image.fromarray(rng.integers(20, 90, (9, 12, 3), dtype=np.uint8)).save(photos / "tiny.png")
    out = tmp_path / "out"
    common = ["stylize", str(photos), "--weights", str(lite_weights), "--tile", "32",
              "--overlap", "8", "--no-progress"]  # fmt: skip
    assert animegan_main([*common, "--out", str(out), "--match-brightness"]) == 0
    assert animegan_main([*common, "--out", str(tmp_path / "plain")]) == 0
    matched = np.asarray(Image.open(out / "big.png"))
    plain = np.asarray(Image.open(tmp_path / "plain" / "big.png"))
    assert Image.open(out / "tiny.png").size == (12, 9)  # padded to 16 and cropped back
    # Random weights give ~mid-gray outputs; the photo is darker, so the flag darkens them
    # to its mean luma (truncation loses < 1 level).
    assert mean_luma(plain) - mean_luma(big) > 20
    assert 0.0 <= mean_luma(big) - mean_luma(matched) < 1.0


def test_export_lite_to_onnx_with_parity_and_int8(
    lite_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calib = tmp_path / "calib"
    calib.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(calib / f"{i}.png")
    out = tmp_path / "lite.onnx"
    code = animegan_main(["export", "--weights", str(lite_weights), "--out", str(out),
                          "--parity-sizes", "16x16", "17x23", "--int8", "--calib", str(calib),
                          "--calib-count", "2", "--calib-size", "32", "--quality-count", "1",
                          "--quality-size", "32"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "17 x 23" in printed and "PASS" in printed and "PSNR" in printed
    assert (tmp_path / "lite.int8.onnx").is_file()
    # A parity size below the lite generator's minimum is a usage error, named up front.
    code = animegan_main(["export", "--weights", str(lite_weights), "--out",
                          str(tmp_path / "x.onnx"), "--parity-sizes", "8x8"])  # fmt: skip
    assert code == 2 and "needs sides >= 16" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_stylize_lite_refuses_a_tile_below_its_minimum(
    lite_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "a.png")
    code = animegan_main(["stylize", str(tmp_path / "a.png"), "--weights", str(lite_weights),
                          "--out", str(tmp_path / "out"), "--tile", "8", "--overlap", "2",
                          "--no-progress"])  # fmt: skip
    assert code == 2 and "at least 16 pixels" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
