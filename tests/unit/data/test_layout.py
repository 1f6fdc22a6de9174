from __future__ import annotations

from pathlib import Path

import pytest

from animegan.data.decode import DatasetNotFoundError
from animegan.data.layout import resolve_layout


def _dirs(root: Path, *names: str) -> None:
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)


def test_plain_layout(tmp_path: Path) -> None:
    _dirs(tmp_path, "photo", "anime")
    layout = resolve_layout(tmp_path)
    assert layout.kind == "plain"
    assert layout.photo_dir == tmp_path / "photo"
    assert layout.anime_dir == tmp_path / "anime"
    assert layout.smooth_dir is None and layout.val_dir is None and layout.test_dir is None

    _dirs(tmp_path, "val", "test")
    layout = resolve_layout(tmp_path)
    assert layout.val_dir == tmp_path / "val"
    assert layout.test_dir == tmp_path / "test"


def test_official_layout(tmp_path: Path) -> None:
    _dirs(tmp_path, "train_photo", "Hayao/style", "Hayao/smooth", "Shinkai/style", "val")
    _dirs(tmp_path, "test/test_photo", "test/HR_photo")
    layout = resolve_layout(tmp_path, style="Hayao")
    assert layout.kind == "official"
    assert layout.photo_dir == tmp_path / "train_photo"
    assert layout.anime_dir == tmp_path / "Hayao" / "style"
    assert layout.smooth_dir == tmp_path / "Hayao" / "smooth"
    assert layout.val_dir == tmp_path / "val"
    assert layout.test_dir == tmp_path / "test" / "test_photo"

    shinkai = resolve_layout(tmp_path, style="shinkai")  # case-insensitive when unambiguous
    assert shinkai.anime_dir == tmp_path / "Shinkai" / "style"
    assert shinkai.smooth_dir is None


def test_official_layout_test_folder_without_test_photo(tmp_path: Path) -> None:
    _dirs(tmp_path, "train_photo", "Paprika/style", "test")
    assert resolve_layout(tmp_path, style="Paprika").test_dir == tmp_path / "test"


def test_official_layout_needs_a_style(tmp_path: Path) -> None:
    _dirs(tmp_path, "train_photo", "Hayao/style", "Paprika/style", "val")
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_layout(tmp_path)
    assert "'Hayao', 'Paprika'" in str(info.value)
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_layout(tmp_path, style="Ghibli")
    message = str(info.value)
    assert "Ghibli" in message and "Hayao" in message and "Paprika" in message


def test_unknown_layout_explains_both_and_lists_contents(tmp_path: Path) -> None:
    _dirs(tmp_path, "pics", "cartoons")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_layout(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "train_photo" in message and "<Style>/style" in message  # official layout
    assert "photo/" in message and "anime/" in message  # plain layout
    assert "cartoons/" in message and "pics/" in message and "notes.txt" in message


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist") as info:
        resolve_layout(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(info.value)


def test_explicit_dirs_override(tmp_path: Path) -> None:
    _dirs(tmp_path, "photo", "anime", "val", "mine/photos", "mine/anime", "holdout")
    layout = resolve_layout(tmp_path, photo_dir="mine/photos", val_dir=tmp_path / "holdout")
    assert layout.photo_dir == tmp_path / "mine" / "photos"  # relative to root
    assert layout.anime_dir == tmp_path / "anime"
    assert layout.val_dir == tmp_path / "holdout"

    only_explicit = resolve_layout(
        tmp_path / "elsewhere",
        photo_dir=tmp_path / "mine/photos",
        anime_dir=tmp_path / "mine/anime",
    )
    assert only_explicit.kind == "plain"
    assert only_explicit.anime_dir == tmp_path / "mine" / "anime"


def test_explicit_anime_dir_with_official_photos(tmp_path: Path) -> None:
    _dirs(tmp_path, "train_photo", "my_style")
    layout = resolve_layout(tmp_path, anime_dir="my_style")
    assert layout.kind == "official"
    assert layout.anime_dir == tmp_path / "my_style"
    assert layout.smooth_dir is None


def test_explicit_missing_dir_is_an_error(tmp_path: Path) -> None:
    _dirs(tmp_path, "photo", "anime")
    with pytest.raises(DatasetNotFoundError, match="val_dir") as info:
        resolve_layout(tmp_path, val_dir="nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)
