from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animegan.data import decode, scan
from animegan.data.decode import DatasetNotFoundError, ImageDecodeError, read_image_rgb
from animegan.data.scan import scan_image_folder, warn_skipped


def _jpeg_bytes(width: int = 64, height: int = 48, **save_kwargs: object) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90, **save_kwargs)
    return buffer.getvalue()


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_png_named_jpg_decodes_by_content(tmp_path: Path) -> None:
    pixels = np.array([[[10, 20, 30], [200, 100, 0]]], dtype=np.uint8)
    path = tmp_path / "anime.jpg"
    Image.fromarray(pixels).save(path, format="PNG")
    out = read_image_rgb(path)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 3)
    np.testing.assert_array_equal(out, pixels)


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    Image.fromarray(np.full((3, 4), 100, np.uint8), mode="L").save(path)
    out = read_image_rgb(path)
    assert out.shape == (3, 4, 3)
    assert (out == 100).all()


def test_one_bit_image(tmp_path: Path) -> None:
    img = Image.new("1", (2, 1), 0)
    img.putpixel((1, 0), 1)
    path = tmp_path / "bits.png"
    img.save(path)
    out = read_image_rgb(path)
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])


def test_rgba_is_composited_over_white(tmp_path: Path) -> None:
    rgba = np.array([[[255, 0, 0, 0], [255, 0, 0, 255], [255, 0, 0, 128]]], dtype=np.uint8)
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    out = read_image_rgb(path)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])  # fully transparent -> white
    np.testing.assert_array_equal(out[0, 1], [255, 0, 0])  # opaque -> unchanged
    # half transparent red over white: G = B = 255 * (1 - 128/255) = 127
    np.testing.assert_array_equal(out[0, 2], [255, 127, 127])


def test_palette_with_transparency_is_composited(tmp_path: Path) -> None:
    img = Image.new("P", (2, 1))
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 1)
    path = tmp_path / "palette.png"
    img.save(path, transparency=1)
    out = read_image_rgb(path)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])


def test_palette_without_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (1, 1))
    img.putpalette([12, 34, 56] + [0] * (256 * 3 - 3))
    path = tmp_path / "palette.gif"
    img.save(path)
    np.testing.assert_array_equal(read_image_rgb(path)[0, 0], [12, 34, 56])


def test_16bit_png_is_scaled_by_range_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    out = read_image_rgb(path)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    assert (out[..., 0] == out[..., 2]).all()


def test_cmyk_converted(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.tiff"
    Image.new("CMYK", (1, 1), (0, 255, 255, 0)).save(path)
    np.testing.assert_array_equal(read_image_rgb(path)[0, 0], [255, 0, 0])


def test_exif_orientation_applied(tmp_path: Path) -> None:
    pixels = np.zeros((10, 20, 3), np.uint8)  # H=10, W=20 as stored
    pixels[:5, :5] = 255  # white block top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, quality=95, exif=exif)
    out = read_image_rgb(path)
    assert out.shape == (20, 10, 3)
    # a 90 degree clockwise turn moves the top-left corner to the top-right
    assert out[:4, -4:].mean() > 200
    assert out[:4, :4].mean() < 50


def test_min_size_decodes_large_jpeg_at_reduced_scale(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg_bytes(400, 300))
    assert read_image_rgb(path).shape == (300, 400, 3)
    # libjpeg scales by 1/2, 1/4 or 1/8: 1/4 is the smallest keeping the short side >= 64
    assert read_image_rgb(path, min_size=64).shape == (75, 100, 3)
    png = tmp_path / "big.png"
    Image.new("RGB", (400, 300)).save(png)
    assert read_image_rgb(png, min_size=64).shape == (300, 400, 3)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty"),
        ("notes.png", b"just some text, not pixels\n", "not a recognised image"),
        ("cut.jpg", _jpeg_bytes()[: len(_jpeg_bytes()) // 2], "truncated"),
    ],
)
def test_unreadable_files_raise_with_path(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError) as info:
        read_image_rgb(path)
    assert str(path) in str(info.value)
    assert reason in str(info.value)


def test_scan_draft_still_catches_truncated_jpeg(tmp_path: Path) -> None:
    data = _jpeg_bytes(512, 384)
    (tmp_path / "full.jpg").write_bytes(data)
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * 0.9)])
    result = scan_image_folder(tmp_path)
    assert [p.name for p in result.paths] == ["full.jpg"]
    assert [(p.name, "truncated" in r) for p, r in result.skipped] == [("cut.jpg", True)]


def _mixed_folder(folder: Path) -> None:
    folder.mkdir()
    Image.new("RGB", (8, 6), (1, 2, 3)).save(folder / "b.png")
    Image.new("RGB", (8, 6), (1, 2, 3)).save(folder / "a.jpg", format="JPEG")
    Image.new("RGBA", (5, 5)).save(folder / "c.jpg", format="PNG")  # wrong extension: valid
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "readme.txt").write_text("hello")
    (folder / "cut.jpg").write_bytes(_jpeg_bytes()[:300])
    (folder / ".hidden.png").write_bytes(b"ignored")
    (folder / "sub").mkdir()
    Image.new("RGB", (4, 4)).save(folder / "sub" / "nested.png")


def test_scan_mixed_folder_counts_and_reasons(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    _mixed_folder(folder)
    result = scan_image_folder(folder)
    assert [p.name for p in result.paths] == ["a.jpg", "b.png", "c.jpg"]
    reasons = {p.name: r for p, r in result.skipped}
    assert sorted(reasons) == ["cut.jpg", "empty.jpg", "readme.txt"]
    assert "empty" in reasons["empty.jpg"]
    assert "not a recognised image" in reasons["readme.txt"]
    assert "truncated" in reasons["cut.jpg"].lower()
    assert [p.name for p in scan_image_folder(folder, recursive=True).paths] == [
        "a.jpg",
        "b.png",
        "c.jpg",
        "nested.png",
    ]


def test_scan_and_read_leave_user_files_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    _mixed_folder(folder)
    before = _snapshot(folder)
    result = scan_image_folder(folder, cache_dir=tmp_path / "cache")
    for path in result.paths:
        read_image_rgb(path)
    assert _snapshot(folder) == before
    assert list((tmp_path / "cache").rglob("*.json"))  # the cache went to cache_dir instead


def test_scan_cache_reuses_verdicts_and_notices_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (4, 4), (i, i, i)).save(folder / f"{i}.png")
    cache = tmp_path / "cache"
    first = scan_image_folder(folder, cache_dir=cache)

    calls: list[Path] = []
    real_check = scan._check_decodable

    def counting_check(path: Path, max_pixels: int | None = None) -> tuple:
        calls.append(path)
        return real_check(path, max_pixels)

    monkeypatch.setattr(scan, "_check_decodable", counting_check)
    second = scan_image_folder(folder, cache_dir=cache)
    assert second.paths == first.paths
    assert calls == []

    changed = folder / "1.png"
    changed.write_bytes(b"")  # now broken: new size and mtime -> re-checked
    os.utime(changed, ns=(1, 1))
    third = scan_image_folder(folder, cache_dir=cache)
    assert calls == [changed]
    assert [p.name for p, _ in third.skipped] == ["1.png"]


def test_missing_folder_error_names_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DatasetNotFoundError) as info:
        scan_image_folder(missing, role="training photos")
    assert str(missing) in str(info.value)
    assert "does not exist" in str(info.value)
    assert "training photos" in str(info.value)


def test_empty_and_all_broken_folders_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError, match="empty") as info:
        scan_image_folder(empty)
    assert str(empty) in str(info.value)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"")
    (broken / "b.jpg").write_bytes(b"xx")
    with pytest.raises(DatasetNotFoundError, match="all 2 entries") as info:
        scan_image_folder(broken)
    assert str(broken) in str(info.value)


def test_warn_skipped_logs_one_truncated_warning(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_decode.warn")
    skipped = [(Path(f"/data/bad_{i:02d}.jpg"), "empty file (0 bytes)") for i in range(25)]
    with caplog.at_level(logging.WARNING, logger="test_decode.warn"):
        warn_skipped(skipped, logger)
        warn_skipped([], logger)
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "25" in message
    assert "bad_00.jpg" in message and "bad_19.jpg" in message
    assert "bad_20.jpg" not in message
    assert "... and 5 more" in message


def test_list_image_files_is_the_one_folder_lister(tmp_path: Path) -> None:
    """Hidden entries ignored, sorted, odd entries reported (never opened), suffix filter."""
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    (folder / ".thumbs").mkdir()
    for name in ["b.png", "a.JPG", "notes.txt", "sub/c.png", "._a.jpg", ".thumbs/t.png"]:
        (folder / name).write_bytes(b"x")
    (folder / "album.jpg").mkdir()
    os.symlink(folder / "gone.png", folder / "dangling.png")
    os.mkfifo(folder / "pipe.jpg")

    listing = decode.list_image_files(folder)
    assert [p.name for p in listing.files] == ["a.JPG", "b.png", "notes.txt"]
    reasons = {p.name: reason for p, reason in listing.skipped}
    assert sorted(reasons) == ["album.jpg", "dangling.png", "pipe.jpg"]
    assert reasons["album.jpg"] == "a folder named like an image, not an image file"
    assert reasons["pipe.jpg"].startswith("not a regular file")

    only_images = decode.list_image_files(folder, suffixes={".png", ".jpg"})
    assert [p.name for p in only_images.files] == ["a.JPG", "b.png"]

    deep = decode.list_image_files(folder, recursive=True, suffixes={".png"})
    assert [p.relative_to(folder).as_posix() for p in deep.files] == ["b.png", "sub/c.png"]
    assert [p.name for p, _ in deep.skipped] == ["dangling.png"]
