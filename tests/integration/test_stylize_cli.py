"""End-to-end runs of `animegan stylize` and `animegan export` (in-process, CPU, tiny images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from animegan.cli.main import main as animegan_main
from animegan.models import Generator, export_state_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return export_state_dict(Generator(), tmp_path_factory.mktemp("w") / "generator.pt")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(folder / "a.png")
    stored = rng.integers(0, 256, (24, 48, 3), dtype=np.uint8)  # landscape as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise -> portrait
    Image.fromarray(stored).save(folder / "rotated.jpg", exif=exif)
    rgba = rng.integers(0, 256, (20, 20, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(folder / "alpha.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return folder


def test_stylize_folder_with_a_corrupt_file(
    weights: Path, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["stylize", str(inputs), "--weights", str(weights), "--out", str(out),
            "--tile", "32", "--overlap", "8", "--keep-alpha", "--no-progress"]  # fmt: skip
    assert animegan_main(args) == 1  # one input failed, the rest were written
    captured = capsys.readouterr()
    assert "corrupt.jpg" in captured.err and "3 written" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "alpha.png", "rotated.jpg"]
    assert Image.open(out / "a.png").size == (56, 40)
    assert Image.open(out / "rotated.jpg").size == (24, 48)  # EXIF rotation applied
    with Image.open(out / "alpha.png") as image:
        assert image.mode == "RGBA"
        original_alpha = np.asarray(Image.open(inputs / "alpha.png"))[..., 3]
        np.testing.assert_array_equal(np.asarray(image)[..., 3], original_alpha)

    # A second run never overwrites; --overwrite does.
    before = (out / "a.png").stat().st_mtime_ns
    assert animegan_main([args[0], str(inputs / "a.png"), *args[2:]]) == 0
    assert (out / "a.png").stat().st_mtime_ns == before
    assert "exists" in capsys.readouterr().out
    assert animegan_main([args[0], str(inputs / "a.png"), *args[2:], "--overwrite"]) == 0
    assert (out / "a.png").stat().st_mtime_ns != before


def test_stylize_strength_zero_and_postprocess_flags(
    weights: Path, inputs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    base = ["stylize", str(inputs / "a.png"), "--weights", str(weights), "--no-progress"]
    assert animegan_main([*base, "--out", str(out), "--strength", "0"]) == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(out / "a.png")), np.asarray(Image.open(inputs / "a.png"))
    )
    post = ["--bilateral", "--white-balance", "--unsharp", "--out", str(tmp_path / "post")]
    assert animegan_main([*base, *post]) == 0
    assert (tmp_path / "post" / "a.png").is_file()


def test_stylize_fails_early_with_a_message(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = animegan_main(
        ["stylize", str(inputs), "--weights", str(tmp_path / "missing.pt"), "--out", "x"]
    )
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_export_onnx_then_stylize_with_onnx_backend(
    weights: Path, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onnx_path = tmp_path / "generator.onnx"
    code = animegan_main(["export", "--weights", str(weights), "--out", str(onnx_path),
                          "--parity-sizes", "16x16", "17x23"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "17 x 23" in printed and "PASS" in printed
    common = [str(inputs / "a.png"), "--tile", "32", "--overlap", "8", "--no-progress"]
    assert animegan_main(["stylize", *common, "--weights", str(weights),
                          "--out", str(tmp_path / "torch")]) == 0  # fmt: skip
    assert animegan_main(["stylize", *common, "--weights", str(onnx_path),
                          "--out", str(tmp_path / "onnx")]) == 0  # fmt: skip
    a = np.asarray(Image.open(tmp_path / "torch" / "a.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "onnx" / "a.png")).astype(int)
    assert np.abs(a - b).max() <= 1


def test_export_to_pt_round_trip(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "port.pt"
    assert animegan_main(["export", "--to-pt", "--weights", str(weights), "--out", str(out)]) == 0
    assert "PASS" in capsys.readouterr().out
    original = torch.load(weights, weights_only=True)
    exported = torch.load(out, weights_only=True)
    assert original.keys() == exported.keys()
    assert all(torch.equal(original[k], exported[k]) for k in original)


def test_export_int8_needs_a_calibration_folder(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = animegan_main(
        ["export", "--weights", str(weights), "--out", str(tmp_path / "g.onnx"), "--int8"]
    )
    assert code == 2 and "--calib" in capsys.readouterr().err


def test_main_without_subcommand_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert animegan_main([]) == 2
    assert "stylize" in capsys.readouterr().out


def test_face_mode_stylizes_the_portrait_and_reports_faceless_photos(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dlib", reason="the offline face detector is in the `faces` extra")
    import importlib.util

    images = Path(importlib.util.find_spec("insightface").submodule_search_locations[0])
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "hanks.png").write_bytes(
        (images / "data" / "images" / "Tom_Hanks_54745.png").read_bytes()
    )
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(photos / "flat.png")  # no face
    out = tmp_path / "out"
    status = animegan_main(
        [
            "stylize",
            str(photos),
            "--weights",
            str(weights),
            "--out",
            str(out),
            "--face",
            "--face-size",
            "128",
            "--face-detector",
            "dlib",
            "--no-progress",
        ]
    )
    assert status == 1  # one input failed (no face), the other was written
    assert Image.open(out / "hanks.png").size == (128, 128)
    assert not (out / "flat.png").exists()
    assert "no face" in capsys.readouterr().err


def test_face_mode_applies_strength_and_refuses_max_side_without_paste_back(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dlib", reason="the offline face detector is in the `faces` extra")
    import importlib.util

    from animegan.faces import make_detector
    from animegan.faces.face2paint import face2paint

    images = Path(importlib.util.find_spec("insightface").submodule_search_locations[0])
    photo_path = tmp_path / "hanks.png"
    photo_path.write_bytes((images / "data" / "images" / "Tom_Hanks_54745.png").read_bytes())
    common = ["stylize", str(photo_path), "--weights", str(weights), "--face", "--face-size",
              "128", "--face-detector", "dlib", "--no-progress"]  # fmt: skip
    assert animegan_main([*common, "--out", str(tmp_path / "s0"), "--strength", "0"]) == 0
    assert animegan_main([*common, "--out", str(tmp_path / "s1")]) == 0
    photo = np.asarray(Image.open(photo_path).convert("RGB"))
    crop = face2paint(photo, lambda x: x, detector=make_detector("dlib"), size=128).portrait
    at_zero = np.asarray(Image.open(tmp_path / "s0" / "hanks.png").convert("RGB"))
    at_one = np.asarray(Image.open(tmp_path / "s1" / "hanks.png").convert("RGB"))
    np.testing.assert_array_equal(at_zero, crop)  # strength 0: the photo's portrait, untouched
    assert np.abs(at_one.astype(int) - crop).mean() > 5
    capsys.readouterr()
    assert animegan_main([*common, "--out", str(tmp_path / "s2"), "--max-side", "64"]) == 2
    assert "--face-paste-back" in capsys.readouterr().err
