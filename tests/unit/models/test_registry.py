"""Published weights by name: cache lookup, download through a file:// URL, SHA-256, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from animegan.cli.main import main as animegan_main
from animegan.models import Generator, export_state_dict
from animegan.models.registry import (
    PUBLISHED_WEIGHTS,
    PublishedWeights,
    WeightsChecksumError,
    cache_path,
    resolve_weights,
    sha256_of,
)
from animegan.models.weights import WeightsNotFoundError


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache under tmp_path (TORCH_HOME is read on every call)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    assert Path(torch.hub.get_dir()) / "checkpoints" == checkpoints
    return checkpoints


@pytest.fixture(scope="module")
def generator_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return export_state_dict(Generator(), tmp_path_factory.mktemp("g") / "source.pt")


def test_registry_names_and_urls() -> None:
    assert set(PUBLISHED_WEIGHTS) == {
        "face_paint_512_v2", "face_paint_512_v1", "celeba_distill", "paprika"
    }  # fmt: skip
    for name, entry in PUBLISHED_WEIGHTS.items():
        assert entry.url.endswith(f"/weights/{name}.pt")
        assert entry.licence
    assert "non-commercial" in PUBLISHED_WEIGHTS["paprika"].licence


def test_planted_file_is_found_without_network(hub: Path, generator_file: Path) -> None:
    hub.mkdir(parents=True)
    planted = hub / "paprika.pt"
    planted.write_bytes(generator_file.read_bytes())
    assert resolve_weights("paprika", download=False) == planted
    assert cache_path("paprika") == planted


def test_paths_pass_through(
    hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_weights(tmp_path / "x.pt") == tmp_path / "x.pt"  # the loader reports it
    monkeypatch.chdir(tmp_path)
    Path("paprika").write_bytes(b"an existing file named like a registry entry wins")
    assert resolve_weights("paprika") == Path("paprika")


def test_download_verifies_sha256(hub: Path, generator_file: Path, tmp_path: Path) -> None:
    good = {"tiny": PublishedWeights("tiny", generator_file.as_uri(), "MIT", "test",
                                     sha256=sha256_of(generator_file))}  # fmt: skip
    path = resolve_weights("tiny", registry=good, progress=False)
    assert path == hub / "tiny.pt" and path.read_bytes() == generator_file.read_bytes()

    bad = {"bad": PublishedWeights("bad", generator_file.as_uri(), "MIT", "test", sha256="0" * 64)}
    with pytest.raises(WeightsChecksumError, match="downloaded file was removed"):
        resolve_weights("bad", registry=bad, progress=False)
    assert not (hub / "bad.pt").exists()
    # A planted file with the wrong hash is refused but left for the user.
    (hub / "bad.pt").write_bytes(b"not the weights")
    with pytest.raises(WeightsChecksumError, match="delete"):
        resolve_weights("bad", registry=bad)
    assert (hub / "bad.pt").read_bytes() == b"not the weights"


def test_offline_names_file_url_and_place(hub: Path, tmp_path: Path) -> None:
    missing = {"gone": PublishedWeights("gone", (tmp_path / "nowhere.pt").as_uri(), "MIT", "t")}
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights("gone", registry=missing, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "nowhere.pt" in message and str(hub / "gone.pt") in message
    assert not (hub / "gone.pt").exists()
    with pytest.raises(WeightsNotFoundError, match="not in the cache"):
        resolve_weights("paprika", download=False)


def test_weights_list_and_stylize_by_name(
    hub: Path, generator_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.mkdir(parents=True)
    (hub / "face_paint_512_v2.pt").write_bytes(generator_file.read_bytes())
    assert animegan_main(["weights", "list"]) == 0
    listing = capsys.readouterr().out
    lines = {line.split()[0]: line for line in listing.splitlines() if line and line[0] != " "}
    assert lines["face_paint_512_v2"].split()[1] == "yes"
    assert lines["paprika"].split()[1] == "no"
    assert "non-commercial" in lines["paprika"]

    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / "p.png")
    args = ["stylize", str(tmp_path / "p.png"), "--weights", "face_paint_512_v2",
            "--out", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    assert animegan_main(args) == 0
    assert (tmp_path / "out" / "p.png").is_file()
    # Unknown names are refused up front with the list; export resolves names too.
    assert animegan_main(["weights", "download", "nope"]) == 2
    out = tmp_path / "g.pt"
    assert animegan_main(["export", "--weights", "face_paint_512_v2", "--out", str(out),
                          "--to-pt"]) == 0  # fmt: skip
    assert out.is_file()


def test_load_generator_takes_a_published_name(hub: Path, generator_file: Path) -> None:
    from animegan.models import load_generator

    with pytest.raises(WeightsNotFoundError, match="not in the cache") as info:
        load_generator("paprika", download=False)
    assert PUBLISHED_WEIGHTS["paprika"].url in str(info.value)
    hub.mkdir(parents=True)
    (hub / "paprika.pt").write_bytes(generator_file.read_bytes())
    generator = load_generator("paprika", download=False)
    expected = torch.load(generator_file, weights_only=True)
    assert set(generator.state_dict()) == set(expected)
    assert all(torch.equal(v, expected[k]) for k, v in generator.state_dict().items())
    # strict=True still holds for a named file: a missing tensor is refused.
    expected.pop("out_layer.0.weight")
    torch.save(expected, hub / "celeba_distill.pt")
    with pytest.raises(ValueError, match="do not fit"):
        load_generator("celeba_distill", download=False)
