"""AtomicCheckpointIO: atomic, durable saves; orphan cleanup; kill -9 at random moments."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from animegan.training.checkpoint_io import (
    FOREIGN_ORPHAN_AGE_S,
    TEMP_PREFIX,
    AtomicCheckpointIO,
    remove_orphans,
    temp_name,
)

SRC = Path(__file__).resolve().parents[3] / "src"


def _checkpoint(value: float, numel: int = 1000) -> dict[str, object]:
    return {"state_dict": {"w": torch.full((numel,), value)}, "epoch": 3, "name": "x"}


def test_save_replaces_the_target_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    target = tmp_path / "run" / "checkpoints" / "last.ckpt"
    io.save_checkpoint(_checkpoint(1.0), target)
    io.save_checkpoint(_checkpoint(2.0), target)
    loaded = torch.load(target, weights_only=True)
    assert torch.equal(loaded["state_dict"]["w"], torch.full((1000,), 2.0))
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]
    assert io.load_checkpoint(target)["epoch"] == 3
    io.remove_checkpoint(target)
    assert not target.exists()
    with pytest.raises(TypeError, match="storage_options"):
        io.save_checkpoint(_checkpoint(1.0), target, storage_options={"a": 1})


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint(_checkpoint(1.0), target)
    with pytest.raises(Exception):  # noqa: B017 - torch.save cannot pickle a lambda
        io.save_checkpoint({"bad": lambda: None}, target)
    assert torch.equal(
        torch.load(target, weights_only=True)["state_dict"]["w"], torch.full((1000,), 1.0)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_remove_orphans_removes_only_ours_whose_writer_is_gone(tmp_path: Path) -> None:
    dead = tmp_path / temp_name("last.ckpt", pid=_dead_pid())
    live = tmp_path / temp_name("epoch001.ckpt", pid=os.getppid())  # a running process
    own = tmp_path / temp_name("epoch002.ckpt")  # this process: a save in progress
    foreign_fresh = tmp_path / temp_name("last.ckpt", pid=1, host="otherhost")
    foreign_old = tmp_path / temp_name("epoch000.ckpt", pid=1, host="otherhost")
    malformed = tmp_path / f"{TEMP_PREFIX}notes.tmp"
    user_files = [tmp_path / "epoch000.ckpt", tmp_path / "notes.txt", malformed]
    for path in [dead, live, own, foreign_fresh, foreign_old, *user_files]:
        path.write_bytes(b"partial")
    old = time.time() - FOREIGN_ORPHAN_AGE_S - 60
    os.utime(foreign_old, (old, old))

    removed = remove_orphans(tmp_path)

    assert sorted(removed) == sorted([dead, foreign_old])
    for path in [live, own, foreign_fresh, *user_files]:
        assert path.read_bytes() == b"partial", path
    assert remove_orphans(tmp_path / "missing") == []


def test_first_save_into_a_folder_cleans_orphans(tmp_path: Path) -> None:
    orphan = tmp_path / temp_name("last.ckpt", pid=_dead_pid())
    orphan.write_bytes(b"\x00" * 10)
    AtomicCheckpointIO().save_checkpoint(_checkpoint(1.0), tmp_path / "epoch000.ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch000.ckpt"]


_WRITER = textwrap.dedent(
    """
    import sys, torch
    from animegan.training.checkpoint_io import AtomicCheckpointIO
    folder = sys.argv[1]
    io = AtomicCheckpointIO()
    state = {"state_dict": {"w": torch.randn(4_000_000)}, "epoch": 0}
    step = 0
    while True:
        state["epoch"] = step
        io.save_checkpoint(state, f"{folder}/epoch{step % 3:03d}.ckpt")
        io.save_checkpoint(state, f"{folder}/last.ckpt")
        print("saved", step, flush=True)
        step += 1
    """
)


def _other_filesystem_tmpdir(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        folder = shm / f"animegan-test-{os.getpid()}-{time.time_ns()}"
    else:
        folder = tmp_path / "tmpdir"
    folder.mkdir()
    return folder


@pytest.mark.slow
def test_kill_9_mid_save_never_leaves_a_broken_checkpoint(tmp_path: Path) -> None:
    """SIGKILL at random moments, $TMPDIR on another filesystem: every *.ckpt loads, $TMPDIR
    stays empty, and the next save removes the partial files of the killed one."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    tmpdir = _other_filesystem_tmpdir(tmp_path)
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(SRC)}
    rng = random.Random(1234)
    try:
        for _ in range(4):
            writer = subprocess.Popen(
                [sys.executable, "-c", _WRITER, str(folder)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                assert writer.stdout is not None
                assert writer.stdout.readline().startswith("saved"), "the writer never saved"
                started = time.monotonic()
                writer.stdout.readline()  # one more pair of saves: its duration
                pair = time.monotonic() - started
                time.sleep(rng.uniform(0.0, pair))
                writer.send_signal(signal.SIGKILL)
                writer.wait(timeout=30)
            finally:
                if writer.poll() is None:
                    writer.kill()
                    writer.wait()
            checkpoints = sorted(folder.glob("*.ckpt"))
            assert [p.name for p in checkpoints][-1] == "last.ckpt"
            for path in checkpoints:
                loaded = torch.load(path, map_location="cpu", weights_only=True)
                assert loaded["state_dict"]["w"].numel() == 4_000_000, path
            # Libraries may create empty cache folders there (torchinductor_<user>); no file.
            leftovers = [path for path in tmpdir.rglob("*") if not path.is_dir()]
            assert leftovers == [], "files left in $TMPDIR"
        AtomicCheckpointIO().save_checkpoint(_checkpoint(0.0), folder / "last.ckpt")
        assert not list(folder.glob(f"{TEMP_PREFIX}*"))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
