from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from urllib.error import HTTPError, URLError

import numpy as np
import pytest
from PIL import Image

from animegan.data import download
from animegan.data.download import DownloadError, download_official_dataset, main
from animegan.data.layout import resolve_layout


def _png_bytes(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((20, 24, 3), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _offline(url: str, timeout: float = 0) -> None:
    raise URLError("[Errno -3] Temporary failure in name resolution")


def test_offline_error_names_urls_and_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "urlopen", _offline)
    dest = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        download_official_dataset(dest, styles=("Hayao",), cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert "cannot reach github.com" in message
    assert download.PHOTOS_URL in message
    assert (
        "https://github.com/TachibanaYoshino/AnimeGANv2/releases/download/1.0/Hayao.tar.gz"
        in message
    )
    assert "train_photo" in message and "Hayao/style" in message
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # staging removed


def test_http_error_is_not_reported_as_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_found(url: str, timeout: float = 0) -> None:
        raise HTTPError(url, 404, "Not Found", hdrs=None, fp=None)  # type: ignore[arg-type]

    monkeypatch.setattr(download, "urlopen", not_found)
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download_official_dataset(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert "cannot reach" not in str(info.value)


def test_main_reports_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(download, "urlopen", _offline)
    status = main(["--dest", str(tmp_path / "data"), "--styles", "Paprika"])
    assert status == 1
    err = capsys.readouterr().err
    assert "Paprika.tar.gz" in err and "dataset.zip" in err


def _archives(folder: Path) -> tuple[str, str]:
    zip_path = folder / "dataset.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("train_photo/1.jpg", _png_bytes(10))
        archive.writestr("train_photo/2.jpg", _png_bytes(20))
        archive.writestr("val/v.jpg", _png_bytes(30))
        archive.writestr("test/test_photo/t.jpg", _png_bytes(40))
        archive.writestr("Hayao/style/v1_only.jpg", _png_bytes(50))  # v1 style: replaced
    with tarfile.open(folder / "Hayao.tar.gz", "w:gz") as archive:
        for name, value in [("Hayao/style/s.jpg", 60), ("Hayao/smooth/s.jpg", 70)]:
            data = _png_bytes(value)
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return zip_path.as_uri(), "file://" + str(folder) + "/{style}.tar.gz"


def test_local_archives_extract_to_official_layout(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    photos_url, style_template = _archives(tmp_path / "mirror")
    dest = tmp_path / "out" / "data"
    download_official_dataset(
        dest,
        styles=("Hayao",),
        photos_url=photos_url,
        style_url_template=style_template,
        cache_dir=tmp_path / "cache",
        image_size=16,
    )
    layout = resolve_layout(dest, style="Hayao")
    assert layout.kind == "official"
    assert sorted(p.name for p in layout.photo_dir.iterdir()) == ["1.jpg", "2.jpg"]
    assert [p.name for p in layout.anime_dir.iterdir()] == ["s.jpg"]  # v2 style, not v1's
    assert layout.smooth_dir is not None and [p.name for p in layout.smooth_dir.iterdir()] == [
        "s.jpg"
    ]
    assert layout.test_dir == dest / "test" / "test_photo"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["data"]  # no staging left


def test_never_overwrites_without_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    monkeypatch.setattr(download, "urlopen", _offline)
    with pytest.raises(FileExistsError, match="force"):
        download_official_dataset(dest, cache_dir=tmp_path / "cache")
    assert (dest / "mine.txt").read_text() == "keep"


def test_complete_dataset_is_not_downloaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "data"
    (dest / "train_photo").mkdir(parents=True)
    (dest / "Hayao" / "style").mkdir(parents=True)
    monkeypatch.setattr(download, "urlopen", _offline)  # any download attempt would fail
    assert download_official_dataset(dest, styles=("Hayao",)) == dest


def test_zip_with_path_traversal_is_refused(tmp_path: Path) -> None:
    zip_path = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("../escaped.txt", b"x")
    with pytest.raises(DownloadError, match="outside"):
        download_official_dataset(
            tmp_path / "data", styles=(), photos_url=zip_path.as_uri(), cache_dir=tmp_path / "c"
        )
    assert not (tmp_path / "escaped.txt").exists()
