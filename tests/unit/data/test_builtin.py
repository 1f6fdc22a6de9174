from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from animegan.data.builtin import MARKER_NAME, build_quickstart_dataset, cartoonize
from animegan.data.decode import read_image_rgb
from animegan.data.layout import resolve_layout

SMALL = {"image_size": 32, "num_photos": 7, "num_anime": 5, "num_val": 3, "seed": 1}


def _contents(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def test_builds_plain_layout_with_counts_and_sizes(tmp_path: Path) -> None:
    root = build_quickstart_dataset(tmp_path / "qs", **SMALL)
    counts = {name: len(list((root / name).iterdir())) for name in ("photo", "anime", "val")}
    assert counts == {"photo": 7, "anime": 5, "val": 3}
    for path in root.rglob("*.png"):
        assert read_image_rgb(path).shape == (32, 32, 3)
    assert (root / MARKER_NAME).is_file()
    assert resolve_layout(root).kind == "plain"
    assert not [p for p in tmp_path.iterdir() if p.name != "qs"]  # no staging left behind


def test_deterministic(tmp_path: Path) -> None:
    first = _contents(build_quickstart_dataset(tmp_path / "a", **SMALL))
    second = _contents(build_quickstart_dataset(tmp_path / "b", **SMALL))
    assert first == second
    other = _contents(build_quickstart_dataset(tmp_path / "c", **{**SMALL, "seed": 2}))
    assert other["photo/photo_0000.png"] != first["photo/photo_0000.png"]


def test_idempotent_and_rebuilds_on_new_parameters(tmp_path: Path) -> None:
    root = build_quickstart_dataset(tmp_path / "qs", **SMALL)
    stamps = _mtimes(root)
    build_quickstart_dataset(root, **SMALL)
    assert _mtimes(root) == stamps  # nothing rewritten

    build_quickstart_dataset(root, **{**SMALL, "num_photos": 4})
    assert len(list((root / "photo").iterdir())) == 4


def test_refuses_foreign_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="refusing"):
        build_quickstart_dataset(tmp_path / "mine", **SMALL)
    assert (tmp_path / "mine" / "holiday.jpg").read_bytes() == b"precious"


def test_anime_is_flat_coloured_with_outlines(tmp_path: Path) -> None:
    root = build_quickstart_dataset(tmp_path / "qs", **SMALL)

    def colours(path: Path) -> int:
        return len(np.unique(read_image_rgb(path).reshape(-1, 3), axis=0))

    anime_colours = [colours(p) for p in (root / "anime").iterdir()]
    photo_colours = [colours(p) for p in (root / "photo").iterdir()]
    # k-means palette of 8, each optionally darkened by an outline: at most 16 colours
    assert max(anime_colours) <= 16
    assert np.median(photo_colours) > 100


def test_cartoonize_darkens_edges() -> None:
    image = np.full((32, 32, 3), 200, np.uint8)
    image[:, 16:] = 40
    out = cartoonize(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out[:, 15:17].mean() < out[:, 4:8].mean()
