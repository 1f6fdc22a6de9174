"""The web app keeps about an hour of results on disk, not every upload it ever stylized."""

from __future__ import annotations

import os
import time
from pathlib import Path

from animegan.serve.app import prune_old_results


def test_old_result_folders_are_removed_and_recent_ones_kept(tmp_path: Path) -> None:
    old, recent = tmp_path / "old", tmp_path / "recent"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "photo-anime.png").write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    os.utime(outside, (two_hours_ago, two_hours_ago))
    (tmp_path / "link").symlink_to(outside, target_is_directory=True)
    assert prune_old_results(tmp_path, max_age_s=3600) == 1
    assert not old.exists() and (recent / "photo-anime.png").is_file()
    assert outside.is_dir()  # a link is never followed out of the results folder
    assert prune_old_results(tmp_path / "missing") == 0
