"""Published generator weights by name: ``--weights paprika`` instead of a path.

The four AnimeGANv2 generators of github.com/bryandlee/animegan2-pytorch (``weights/*.pt``,
plain state_dicts of the layout in :mod:`animegan.models.generator`) are known by name. A name
resolves to ``<torch hub dir>/checkpoints/<name>.pt`` -- the file ``torch.hub`` itself would
write, so weights fetched earlier through that repository's ``hubconf.py`` are found -- and is
downloaded there on first use. A SHA-256 is checked where the registry has one; a file that
does not match is refused (a downloaded one is removed, a planted one is left for the user).
Offline, resolving stops with one line naming the file, its URL and where to put it.

Nothing here touches the network unless a name is resolved whose file is missing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from animegan.models.weights import WeightsNotFoundError

__all__ = [
    "PUBLISHED_WEIGHTS",
    "PublishedWeights",
    "WeightsChecksumError",
    "cache_path",
    "is_published_name",
    "resolve_weights",
    "sha256_of",
]

_BASE_URL = "https://github.com/bryandlee/animegan2-pytorch/raw/main/weights"
_MIT = "MIT (animegan2-pytorch repository licence)"
_NON_COMMERCIAL = (
    "AnimeGANv2 licence: non-commercial use only (converted from TachibanaYoshino/AnimeGANv2)"
)


class WeightsChecksumError(ValueError):
    """A published weight file does not have the SHA-256 the registry records."""


@dataclass(frozen=True)
class PublishedWeights:
    """One published generator.

    Attributes:
        name: the name given to ``--weights``.
        url: where the file is downloaded from.
        licence: licence of the weights, shown by ``animegan weights list``.
        description: what the weights do, in a few words.
        sha256: hex digest the file must have, or ``None`` where none is published (the
            upstream files carry no hash in their names, so ``torch.hub``'s check cannot apply).
        size_bytes: approximate file size (for messages), 0 when unknown.
    """

    name: str
    url: str
    licence: str
    description: str
    sha256: str | None = None
    size_bytes: int = 0

    @property
    def filename(self) -> str:
        """File name in the cache: ``<name>.pt``."""
        return f"{self.name}.pt"


PUBLISHED_WEIGHTS: dict[str, PublishedWeights] = {
    w.name: w
    for w in (
        PublishedWeights(
            "face_paint_512_v2",
            f"{_BASE_URL}/face_paint_512_v2.pt",
            _MIT,
            "portraits, 512 px face crops, stronger style (animegan2-pytorch default)",
            size_bytes=8_600_000,
        ),
        PublishedWeights(
            "face_paint_512_v1",
            f"{_BASE_URL}/face_paint_512_v1.pt",
            _MIT,
            "portraits, 512 px face crops, first version",
            size_bytes=8_600_000,
        ),
        PublishedWeights(
            "celeba_distill",
            f"{_BASE_URL}/celeba_distill.pt",
            _MIT,
            "portraits, distilled on CelebA faces",
            size_bytes=8_600_000,
        ),
        PublishedWeights(
            "paprika",
            f"{_BASE_URL}/paprika.pt",
            _NON_COMMERCIAL,
            "scenes, Paprika style (official AnimeGANv2 weights)",
            size_bytes=8_600_000,
        ),
    )
}


def hub_checkpoint_dir() -> Path:
    """``<torch hub dir>/checkpoints`` (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch``)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def cache_path(name: str, registry: Mapping[str, PublishedWeights] | None = None) -> Path:
    """Where the published weights ``name`` live (whether or not they are there yet).

    Raises:
        KeyError: ``name`` is not in the registry.
    """
    entry = (PUBLISHED_WEIGHTS if registry is None else registry)[name]
    return hub_checkpoint_dir() / entry.filename


def is_published_name(spec: str | os.PathLike[str], registry: Mapping | None = None) -> bool:
    """Whether ``spec`` is a registry name (and not an existing file of that name)."""
    text = os.fspath(spec)
    return text in (PUBLISHED_WEIGHTS if registry is None else registry) and not Path(
        text
    ).is_file()


def sha256_of(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, target: Path, progress: bool) -> None:
    """Fetch ``url`` to ``target`` through a temporary file (torch.hub's downloader)."""
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    # download_url_to_file writes to a temporary name next to target and renames at the end,
    # so an interrupted download never leaves a truncated file under the final name.
    torch.hub.download_url_to_file(url, str(target), hash_prefix=None, progress=progress)


def resolve_weights(
    spec: str | os.PathLike[str],
    *,
    download: bool = True,
    progress: bool = True,
    registry: Mapping[str, PublishedWeights] | None = None,
) -> Path:
    """Turn a ``--weights`` value into a file: an existing path, or a published name.

    Args:
        spec: a path (returned as is, expanded, whether or not it exists: the loader then
            says what is missing) or a name of :data:`PUBLISHED_WEIGHTS`. An existing file
            wins over a name.
        download: fetch a missing published file; ``False`` stops with the offline message.
        progress: show the download progress bar.
        registry: names to resolve against (tests pass their own); default the published ones.

    Returns:
        Path of the weight file.

    Raises:
        WeightsNotFoundError: a published file is missing and could not be downloaded; the
            message names the file, the URL and where to put it.
        WeightsChecksumError: the file's SHA-256 differs from the registry's.
    """
    registry = PUBLISHED_WEIGHTS if registry is None else registry
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.is_file() or text not in registry:
        return path
    entry = registry[text]
    target = hub_checkpoint_dir() / entry.filename
    downloaded = False
    if not target.is_file():
        where = (
            f"download {entry.url} and put it at {target} (or pass the file's path to --weights)"
        )
        if not download:
            raise WeightsNotFoundError(f"published weights {text!r} are not in the cache: {where}")
        try:
            _download(entry.url, target, progress)
        except Exception as error:  # noqa: BLE001 - any network failure means the same to a user
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise WeightsNotFoundError(
                f"published weights {text!r} could not be downloaded ({reason}): {where}"
            ) from None
        downloaded = True
    if entry.sha256 is not None:
        actual = sha256_of(target)
        if actual != entry.sha256.lower():
            if downloaded:
                target.unlink(missing_ok=True)
                what = "the downloaded file was removed; try again or fetch it by hand"
            else:
                what = f"delete {target} and run again to download it"
            raise WeightsChecksumError(
                f"{target} has SHA-256 {actual}, expected {entry.sha256} for {text!r}: {what}"
            )
    return target
