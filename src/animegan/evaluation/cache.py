"""Reference-feature cache: real statistics computed once per file list, size and extractor.

Files are ``<cache_dir>/<key>.pt`` holding only tensors and strings, read with
``weights_only=True`` (stylegan3's feature cache, torchmetrics ``reset_real_features=False``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["ReferenceFeatureCache", "file_list_fingerprint", "weights_file_id"]


def weights_file_id(path: Path) -> str:
    """``name:size`` of a weight file: part of an extractor id, so new weights miss the cache."""
    stat = path.stat()
    return f"{path.name}:{stat.st_size}"


def file_list_fingerprint(paths: Sequence[str | os.PathLike[str]]) -> str:
    """SHA-256 of the ordered list of (absolute path, size, mtime_ns): changes when any file does.

    Args:
        paths: image files, in the order they are evaluated.

    Returns:
        64 hex characters.
    """
    entries = []
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        stat = resolved.stat()
        entries.append([str(resolved), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


class ReferenceFeatureCache:
    """Reference-image features on disk, keyed by file list, image size and feature extractor.

    Real statistics are computed once per (dataset files, resize policy, extractor) and reused by
    every later evaluation, in training and in ``make eval`` (stylegan3's feature cache). Files are
    ``<cache_dir>/<key>.pt`` holding only tensors and strings, read with ``weights_only=True``.

    Args:
        cache_dir: folder for the cache files; ``None`` disables caching.
    """

    VERSION = 1

    def __init__(self, cache_dir: str | os.PathLike[str] | None) -> None:
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()

    def key(self, paths: Sequence[Path], image_size: int, extractor_id: str) -> str:
        """Cache key: hash of the file fingerprint, ``image_size`` (pixels) and ``extractor_id``."""
        payload = json.dumps(
            [self.VERSION, file_list_fingerprint(paths), int(image_size), extractor_id]
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def path(self, key: str) -> Path | None:
        """The cache file of ``key`` (``None`` when caching is off)."""
        return None if self.cache_dir is None else self.cache_dir / f"{key}.pt"

    def load(self, key: str) -> Tensor | None:
        """Cached features [N, D] float32, or ``None`` on a miss (or an unreadable file)."""
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a truncated or foreign file is a miss, recomputed and overwritten
            return None
        features = payload.get("features") if isinstance(payload, dict) else None
        return features if isinstance(features, Tensor) else None

    def save(self, key: str, features: Tensor, description: str = "") -> Path | None:
        """Write ``features`` [N, D] atomically; returns the file (``None`` when caching is off)."""
        path = self.path(key)
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({"features": features.detach().float().cpu(), "description": description}, tmp)
        os.replace(tmp, path)
        return path
