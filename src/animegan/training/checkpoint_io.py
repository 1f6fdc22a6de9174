"""Checkpoints written atomically on every local or network filesystem.

Lightning's default ``TorchCheckpointIO`` writes through fsspec, whose local "transaction" puts a
temporary file in ``$TMPDIR`` and moves it into place. When ``$TMPDIR`` is on another filesystem
than the run folder (node-local /tmp, checkpoints on shared storage: the usual cluster layout)
the move is a copy, so a ``kill -9`` during it leaves a truncated ``epochNNN.ckpt`` or a 0-byte
``last.ckpt`` behind, plus an orphan of the full checkpoint size in ``$TMPDIR``.

:class:`AtomicCheckpointIO` writes into a temporary file *in the destination folder*, flushes and
fsyncs it, renames it over the target with ``os.replace`` (atomic within one filesystem) and
fsyncs the folder so the rename itself is durable. A checkpoint path therefore always holds either
the previous complete file or the new complete file, and nothing is written to ``$TMPDIR``. A
killed save leaves only a temporary file of our own naming (:data:`TEMP_PREFIX`) in the checkpoint
folder; the next run removes those at its first save (:func:`remove_orphans`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

__all__ = ["TEMP_PREFIX", "AtomicCheckpointIO", "remove_orphans", "temp_name"]

log = logging.getLogger(__name__)

# Every temporary checkpoint file starts with this; nothing else in a folder is ever removed.
TEMP_PREFIX = ".animegan-partial-"
TEMP_SUFFIX = ".tmp"

# A temporary file written from another host is removed only when it has not been modified for
# this long (seconds): its writer may still be alive, and a live save writes continuously.
FOREIGN_ORPHAN_AGE_S = 3600.0


def _host() -> str:
    # Dots and dashes would make the name ambiguous to parse; a host name never needs them here.
    return socket.gethostname().replace(".", "_").replace("-", "_") or "host"


def temp_name(target_name: str, pid: int | None = None, host: str | None = None) -> str:
    """Name of the temporary file a save of ``target_name`` writes first.

    Args:
        target_name: file name of the checkpoint (``last.ckpt``).
        pid: writer's process id (default: this process).
        host: writer's host name with ``.``/``-`` replaced by ``_`` (default: this host).

    Returns:
        ``.animegan-partial-<host>-<pid>-<ns time>-<target_name>.tmp``.
    """
    pid = os.getpid() if pid is None else pid
    host = _host() if host is None else host
    return f"{TEMP_PREFIX}{host}-{pid}-{time.time_ns()}-{target_name}{TEMP_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _is_orphan(path: Path, now: float) -> bool:
    """True for a temporary file of ours whose writer is gone."""
    fields = path.name[len(TEMP_PREFIX) :].split("-", 2)
    if len(fields) < 3 or not fields[1].isdigit():
        return False  # our prefix but not our layout: leave it alone
    host, pid = fields[0], int(fields[1])
    if host == _host():
        return pid != os.getpid() and not _pid_alive(pid)
    try:
        return now - path.stat().st_mtime > FOREIGN_ORPHAN_AGE_S
    except FileNotFoundError:
        return False


def remove_orphans(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary checkpoint files left in ``folder`` by killed saves.

    Only files named by :func:`temp_name` are considered: on this host, those whose writer
    process no longer exists; from another host, those unmodified for
    :data:`FOREIGN_ORPHAN_AGE_S`. Nothing else is touched, and a missing folder is fine.

    Args:
        folder: a checkpoint folder.

    Returns:
        The removed files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for path in sorted(folder.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}")):
        if path.is_file() and not path.is_symlink() and _is_orphan(path, now):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    if removed:
        log.info(
            "removed %d partial checkpoint file(s) left by an interrupted save in %s",
            len(removed),
            folder,
        )
    return removed


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; a no-op where folders cannot be opened or synced."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        # Some filesystems (and all of Windows) refuse fsync on a directory.
        if error.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EACCES):
            raise
    finally:
        os.close(descriptor)


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose saves are atomic and durable on local and network filesystems.

    Write ``<folder>/<temp_name>`` → flush → fsync → ``os.replace`` onto the target → fsync the
    folder. Loading and removal are Lightning's. Remote URLs (``s3://`` ...) have no rename to
    rely on and are passed to Lightning's implementation unchanged. Orphans of killed saves are
    removed from a checkpoint folder at the first save into it (:func:`remove_orphans`).

    Under DDP only global rank 0 saves (Lightning's strategies call the plugin there), so no two
    processes write the same target.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cleaned: set[Path] = set()

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike[str], storage_options: Any = None
    ) -> None:
        """Save ``checkpoint`` to ``path`` atomically.

        Args:
            checkpoint: the checkpoint dict (anything ``torch.save`` accepts).
            path: target file; its folder is created if missing.
            storage_options: unsupported, must be ``None`` (as in ``TorchCheckpointIO``).

        Raises:
            TypeError: ``storage_options`` given.
            OSError: the folder is not writable or the disk is full; the target is unchanged
                and the temporary file removed.
        """
        text = os.fspath(path)
        if not _is_local(text):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(
                "Trainer.save_checkpoint(..., storage_options=...) is not supported by "
                f"{type(self).__name__}"
            )
        target = Path(text.removeprefix("file://")).absolute()
        folder = target.parent
        folder.mkdir(parents=True, exist_ok=True)
        if folder not in self._cleaned:
            remove_orphans(folder)
            self._cleaned.add(folder)
        temporary = folder / temp_name(target.name)
        try:
            # "xb": never follow or reuse an existing file of that name.
            with open(temporary, "xb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        _fsync_folder(folder)
