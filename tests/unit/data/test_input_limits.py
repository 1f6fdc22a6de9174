"""Pixel limit from the header, entries that are not files, exact 16-bit colour, eval records,
and the early checks of `stylize` (write probe, tiling estimate)."""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from torch import nn

from animegan.data import decode, scan
from animegan.data.decode import (
    DatasetNotFoundError,
    ImageTooLargeError,
    entry_problem,
    image_header_size,
    read_image_rgb,
)
from animegan.data.scan import ImagePaths, scan_image_folder
from animegan.evaluation import LPIPSNetwork
from animegan.evaluation.evaluator import Evaluator
from animegan.evaluation.report import write_report
from animegan.inference.image_io import collect_inputs, probe_writable


def header_only_png(path: Path, width: int, height: int) -> Path:
    """A valid PNG header claiming ``width`` x ``height`` with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def rgb_png(path: Path, width: int, height: int, seed: int = 0) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


# ---------------------------------------------------------------------------- pixel limit
def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path: Path) -> None:
    claimed = header_only_png(tmp_path / "claims.png", 12000, 12000)
    assert image_header_size(claimed) == (12000, 12000)
    # Decoding would report truncation; the limit refuses it before any pixel is read.
    with pytest.raises(ImageTooLargeError, match=r"12000x12000 = 144\.0 MP .* limit of 50 MP"):
        read_image_rgb(claimed, max_pixels=50_000_000)
    with pytest.raises(decode.ImageDecodeError, match="truncated|broken|error"):
        read_image_rgb(claimed)
    small = rgb_png(tmp_path / "small.png", 30, 20)
    assert read_image_rgb(small, max_pixels=600).shape == (20, 30, 3)
    with pytest.raises(ImageTooLargeError):
        read_image_rgb(small, max_pixels=599)


def test_scan_skips_large_images_and_the_cache_follows_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rgb_png(folder / "small.png", 10, 10)
    rgb_png(folder / "big.png", 40, 30)
    cache = tmp_path / "cache"
    low = scan_image_folder(folder, cache, max_pixels=500)
    assert [p.name for p in low.paths] == ["small.png"]
    assert low.skipped == [(folder / "big.png", decode.too_large_reason(40, 30, 500))]

    calls: list[tuple[str, int | None]] = []
    real_check = scan._check_decodable

    def counting_check(path: Path, max_pixels: int | None = None) -> tuple:
        calls.append((path.name, max_pixels))
        return real_check(path, max_pixels)

    monkeypatch.setattr(scan, "_check_decodable", counting_check)
    # A higher limit decodes the file that was never decoded; the other verdict is reused.
    high = scan_image_folder(folder, cache, max_pixels=5000)
    assert [p.name for p in high.paths] == ["big.png", "small.png"]
    assert calls == [("big.png", 5000)]
    # Lowering it again needs no decoding at all: the size is in the cache.
    calls.clear()
    again = scan_image_folder(folder, cache, max_pixels=500)
    assert [p.name for p in again.paths] == ["small.png"] and calls == []
    with pytest.raises(ValueError, match="max_pixels"):
        scan_image_folder(folder, cache, max_pixels=0)


def test_header_bomb_is_refused_without_decoding(tmp_path: Path) -> None:
    bomb = header_only_png(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(ImageTooLargeError, match="pixel limit"):
        read_image_rgb(bomb)
    with pytest.raises(ImageTooLargeError):
        image_header_size(bomb)


# ------------------------------------------------------------------ entries that are not files
def odd_folder(folder: Path) -> Path:
    folder.mkdir()
    rgb_png(folder / "good.png", 8, 8)
    os.symlink(folder / "missing.jpg", folder / "dangling.jpg")
    os.symlink(folder / "loop.png", folder / "loop.png")
    (folder / "album.jpg").mkdir()
    rgb_png(folder / "album.jpg" / "inner.png", 8, 8)
    (folder / "plain_subfolder").mkdir()
    os.mkfifo(folder / "pipe.png")
    return folder


def test_scan_lists_links_loops_pipes_and_folders_named_like_images(tmp_path: Path) -> None:
    folder = odd_folder(tmp_path / "odd")
    result = scan_image_folder(folder)
    assert list(result.paths) == [folder / "good.png"]
    reasons = {path.name: reason for path, reason in result.skipped}
    assert sorted(reasons) == ["album.jpg", "dangling.jpg", "loop.png", "pipe.png"]
    assert reasons["dangling.jpg"].startswith("dangling symbolic link")
    assert "missing.jpg" in reasons["dangling.jpg"]
    assert reasons["loop.png"].startswith("symbolic link loop")
    assert reasons["pipe.png"].startswith("not a regular file")
    assert reasons["album.jpg"].startswith("a folder named like an image")
    assert result.found == 5
    assert isinstance(result.paths, ImagePaths) and result.paths.skipped == result.skipped
    # Recursive scans descend into album.jpg/ instead of listing it.
    recursive = scan_image_folder(folder, recursive=True)
    assert [p.name for p in recursive.paths] == ["inner.png", "good.png"]
    assert "album.jpg" not in {p.name for p, _ in recursive.skipped}


def test_read_of_a_named_pipe_fails_at_once_instead_of_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_image_rgb(pipe)
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            outcome.append(error)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the thread: open the write end once
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_image_rgb blocked on a named pipe")
    assert len(outcome) == 1 and "not a regular file" in str(outcome[0])
    assert entry_problem(tmp_path) == "a folder, not an image file"


def test_folder_holding_no_usable_entry_says_what_it_found(tmp_path: Path) -> None:
    folder = tmp_path / "links"
    folder.mkdir()
    os.symlink(folder / "gone.jpg", folder / "a.jpg")
    (folder / "b.png").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        scan_image_folder(folder, role="photos")
    message = str(info.value)
    assert "empty" not in message
    assert "all 2 entries there were left out" in message
    assert "a.jpg: dangling symbolic link" in message and "b.png: a folder named" in message
    only_sub = tmp_path / "only_sub"
    (only_sub / "nested").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="only hidden files or sub-folders"):
        scan_image_folder(only_sub)


# ----------------------------------------------------------------------------- 16-bit colour
def test_16bit_rgb_and_rgba_png_use_every_bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    values[0, 0] = [0x10F0, 0x00FF, 0xFFFF]  # high byte alone would give 16, 0, 255
    assert cv2.imwrite(str(tmp_path / "rgb16.png"), values[..., ::-1])
    expected = ((values.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)
    out = read_image_rgb(tmp_path / "rgb16.png")
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0].tolist() == [17, 1, 255]

    alpha = np.full((5, 7, 1), 65535, np.uint16)
    alpha[0, 0] = 0  # fully transparent -> white
    rgba = np.concatenate([values, alpha], axis=2)
    assert cv2.imwrite(str(tmp_path / "rgba16.png"), rgba[..., [2, 1, 0, 3]])
    out = read_image_rgb(tmp_path / "rgba16.png")
    assert out[0, 0].tolist() == [255, 255, 255]
    np.testing.assert_array_equal(out[1:], expected[1:])


def test_16bit_rgb_png_honours_exif_orientation(tmp_path: Path) -> None:
    values = np.random.default_rng(4).integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    path = tmp_path / "rot16.png"
    assert cv2.imwrite(str(path), values[..., ::-1])
    with Image.open(path) as image:
        exif = Image.Exif()
        exif[0x0112] = 6
        image.load()
        # Re-save through PIL only to attach EXIF would drop the 16 bits; patch the chunk in.
    data = path.read_bytes()
    exif_bytes = exif.tobytes()
    chunk = (
        struct.pack(">I", len(exif_bytes))
        + b"eXIf"
        + exif_bytes
        + struct.pack(">I", zlib.crc32(b"eXIf" + exif_bytes))
    )
    ihdr_end = 8 + 4 + 4 + 13 + 4
    path.write_bytes(data[:ihdr_end] + chunk + data[ihdr_end:])
    out = read_image_rgb(path)
    expected = ((values.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)
    np.testing.assert_array_equal(out, np.rot90(expected, k=-1))


# ------------------------------------------------------------------------- eval records
def test_evaluator_records_and_warns_once_about_skipped_inputs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        rgb_png(folder / f"{index}.png", 40, 36, seed=index)
    (folder / "zero.png").write_bytes(b"")
    os.symlink(folder / "gone.jpg", folder / "dangling.jpg")
    photos = scan_image_folder(folder).paths
    evaluator = Evaluator(
        image_size=32, batch_size=2, lpips=LPIPSNetwork(backbone="random"), diversity_images=2
    )
    with caplog.at_level(logging.WARNING, logger="animegan.evaluation.evaluator"):
        result = evaluator.evaluate(nn.Identity(), photos)
        evaluator.evaluate(nn.Identity(), photos)  # make compare: same photos, no 2nd warning
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "zero.png" in warnings[0] and "dangling.jpg" in warnings[0]
    assert {k: result.info[k] for k in result.info if k.startswith("photos_")} == {
        "photos_found": 5,
        "photos_scored": 3,
        "photos_skipped": 2,
        "photos_not_sampled": 0,
    }
    assert [(Path(row["path"]).name, row["role"]) for row in result.skipped] == [
        ("dangling.jpg", "photo"),
        ("zero.png", "photo"),
    ]
    files = write_report(result, tmp_path / "report")
    stored = json.loads(files["metrics"].read_text())
    assert [Path(row["path"]).name for row in stored["skipped"]] == ["dangling.jpg", "zero.png"]
    assert "empty file" in stored["skipped"][1]["reason"]
    markdown = files["report_md"].read_text()
    assert "## Skipped inputs" in markdown and "2 input(s) were left out" in markdown

    # Explicit lists (a caller that scanned itself) and a plain list without a record.
    explicit = evaluator.evaluate(
        nn.Identity(), list(photos), skipped_photos=[(folder / "x.jpg", "corrupt")]
    )
    assert explicit.info["photos_skipped"] == 1 and explicit.skipped[0]["reason"] == "corrupt"
    plain = evaluator.evaluate(nn.Identity(), list(photos)[:2])
    assert plain.skipped == [] and plain.info["photos_found"] == 2
    assert "Skipped inputs" not in write_report(plain, tmp_path / "r2")["report_md"].read_text()


# ------------------------------------------------------------------------ stylize helpers
def test_probe_writable_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper"
    assert probe_writable(target) is None
    assert not (tmp_path / "new").exists()  # created for the probe, removed again
    (tmp_path / "file").write_text("x")
    assert "not a folder" in str(probe_writable(tmp_path / "file"))
    assert "cannot write" in str(probe_writable(tmp_path / "file" / "sub"))
    existing = tmp_path / "existing"
    existing.mkdir()
    assert probe_writable(existing) is None and list(existing.iterdir()) == []


def test_collect_inputs_reports_entries_that_are_not_files(tmp_path: Path) -> None:
    folder = odd_folder(tmp_path / "odd")
    items, problems = collect_inputs([folder, folder / "dangling.jpg", folder / "pipe.png"])
    assert [item.path.name for item in items] == ["good.png"]
    reasons = {Path(spec).name: reason for spec, reason in problems}
    assert sorted(reasons) == ["album.jpg", "dangling.jpg", "loop.png", "pipe.png"]
    assert reasons["dangling.jpg"].startswith("dangling symbolic link")
    assert reasons["pipe.png"].startswith("not a regular file")
    _, missing = collect_inputs([tmp_path / "nothing_here.jpg"])
    assert missing == [(str(tmp_path / "nothing_here.jpg"), "no such file or folder")]


def test_tiling_estimate_hand_computed() -> None:
    from animegan.inference.tiling import CALL_OVERHEAD_PIXELS, tiling_work

    # 48 x 40 with 8-pixel tiles and no overlap: 6 x 5 tiles of 64 pixels.
    assert tiling_work([(48, 40)], 8, 0) == (30, 30 * (CALL_OVERHEAD_PIXELS + 64))
    # One call with the defaults: the image fits in one 512 tile.
    assert tiling_work([(48, 40)], 512, 64) == (1, CALL_OVERHEAD_PIXELS + 48 * 40)
