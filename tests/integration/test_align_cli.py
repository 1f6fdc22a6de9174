"""align_faces CLI on real sample faces: crops, report, landmark cache, inputs untouched."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from animegan.cli.align_faces import main


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_align_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("dlib", reason="offline detector extra not installed (animegan[faces])")
    insightface = pytest.importorskip("insightface")
    images = Path(insightface.__file__).parent / "data" / "images"
    source = tmp_path / "photos"
    source.mkdir()
    shutil.copy(images / "t1.jpg", source / "group.jpg")
    shutil.copy(images / "Tom_Hanks_54745.png", source / "hanks.png")
    cv2.imwrite(str(source / "blank.png"), np.full((64, 64, 3), 128, np.uint8))
    (source / "notes.txt").write_text("not an image")
    before = _digest(source)
    out = tmp_path / "faces"

    assert main([str(source), str(out), "--size", "112", "--backend", "dlib"]) == 0
    printed = capsys.readouterr().out
    assert "no face (1): blank.png" in printed
    assert "several faces (1): group.jpg" in printed
    assert _digest(source) == before
    assert sorted(p.name for p in out.glob("*.png")) == ["group.png", "hanks.png"]
    assert cv2.imread(str(out / "hanks.png")).shape == (112, 112, 3)
    cache = json.loads((out / "landmarks.json").read_text())
    assert len(cache["images"]["group.jpg"]["faces"]) == 6
    # Crop landmarks of an ArcFace crop sit near the template.
    crop_points = np.array(cache["images"]["hanks.png"]["crops"][0]["landmarks"])
    assert np.abs(crop_points[0] - [38.29, 51.70]).max() < 3

    # Portrait crops (face2paint framing) into a second folder.
    assert main([str(source), str(out / "portraits"), "--size", "128", "--portrait"]) == 0
    assert cv2.imread(str(out / "portraits" / "group.png")).shape == (128, 128, 3)
    assert _digest(source) == before
