"""Shared helpers for reading weight files safely and naming what went wrong.

Every file is read with ``torch.load(..., weights_only=True)`` so a downloaded checkpoint can
never run code on load. Errors say which path was tried and what belongs there, because a
missing or wrong weight file is the most common way a run fails before its first step.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

# Path components added by wrappers around a module: torch.compile stores the original module
# as `_orig_mod`, DataParallel/DistributedDataParallel as `module`. Neither is part of the layout.
WRAPPER_KEY_PARTS: frozenset[str] = frozenset({"_orig_mod", "module"})


class WeightsNotFoundError(FileNotFoundError):
    """A weight file the model needs is not on disk (and could not be downloaded).

    Args:
        message: the sentence shown to the user (names the file, the URL, where to put it).
        owner: name of the class or function whose argument names the file
            (``"InceptionFeatures"``), so an entry point can add the config key it was built from.
        argument: that argument (``"weights_path"``); ``None`` when no argument names a file.
    """

    def __init__(self, message: str, *, owner: str | None = None, argument: str | None = None):
        super().__init__(message)
        self.owner = owner
        self.argument = argument


class InvalidWeightsError(ValueError):
    """A weight file exists but is not of the expected format (or was refused as unsafe)."""


class WeightsFileError(InvalidWeightsError):
    """A weight file or checkpoint exists but cannot be read.

    Empty, truncated, not a PyTorch file, or holding Python objects that ``weights_only=True``
    refuses (no code is run).
    """


# First bytes of the two formats torch.save writes: a zip archive (torch >= 1.6) or a pickle.
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"


def _unreadable(path: Path, what: str, error: BaseException) -> WeightsFileError:
    """One clear sentence for a file torch.load(weights_only=True) could not read.

    Torch's own message for a refused or unknown pickle advises retrying with
    ``weights_only=False``, which would run whatever code the file holds: it is never repeated.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(4)
    if size == 0:
        reason = "is empty (0 bytes)"
    elif isinstance(error, pickle.UnpicklingError) and "GLOBAL" in str(error):
        named = next((line for line in str(error).splitlines() if "GLOBAL" in line), "")
        reason = (
            "holds Python objects, not only tensors: torch.load(weights_only=True) refused it "
            "without running any code"
            + (f" ({named.strip().rstrip('.')})" if named else "")
            + "; re-save only the tensors (e.g. animegan.models.export_state_dict)"
        )
    elif head.startswith(_ZIP_MAGIC):
        reason = (
            f"is truncated or corrupt ({size:,} bytes of a torch.save zip archive that does not "
            "read to the end); copy or download it again, or use another checkpoint"
        )
    elif head.startswith(_PICKLE_MAGIC):
        reason = (
            f"is a pickle ({size:,} bytes) but not a complete torch.save file: truncated, "
            "corrupt, or written by plain pickle; copy or download it again"
        )
    else:
        reason = "is not a PyTorch weight file (neither a torch.save zip archive nor a pickle)"
    return WeightsFileError(f"{what} {path} {reason}")


def hub_checkpoint_path(file_name: str) -> Path:
    """Where the torch hub cache keeps a downloaded weight file (``$TORCH_HOME`` honoured).

    Args:
        file_name: the file's name, e.g. ``"vgg19-dcbb9e9d.pth"``.

    Returns:
        ``<torch.hub.get_dir()>/checkpoints/<file_name>``, read at call time so a ``TORCH_HOME``
        set by a user shell or a test is honoured.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def url_file_name(url: str) -> str:
    """The file name at the end of ``url`` (what the torch hub cache stores it as)."""
    return url.rsplit("/", 1)[-1]


def resolve_weights_file(
    weights_path: str | os.PathLike[str] | None,
    *,
    what: str,
    owner: str,
    url: str | None = None,
    cache_path: Path | None = None,
    allow_download: bool = False,
    check_hash: bool = False,
    argument: str = "weights_path",
    hint: str = "",
) -> Path:
    """Find a weight file: the given path, else the torch hub cache, else a download.

    The one place a weight file is looked up (VGG19, FID Inception, the LPIPS backbones,
    ArcFace). Nothing is read here; load the returned path with :func:`load_state_dict_file`.

    Args:
        weights_path: path the caller was given; when set it must exist (no fallback).
        what: words naming the weights for messages (``"FID Inception weights"``).
        owner: class or function whose argument ``weights_path`` is (``"InceptionFeatures"``).
        url: where the file is published; ``None`` when it cannot be downloaded.
        cache_path: the file's place in the torch hub cache; default (with ``url``)
            :func:`hub_checkpoint_path` of the URL's file name; ``None`` without ``url``: no cache.
        allow_download: fetch ``url`` into ``cache_path`` when neither file exists.
        check_hash: the file name carries a SHA-256 prefix (torchvision's ``name-<hex>.pth``)
            that the download must match.
        argument: the caller's argument name, for messages.
        hint: sentence appended to every not-found message (e.g. a no-file alternative).

    Returns:
        Path of an existing file.

    Raises:
        WeightsNotFoundError: the file is missing and could not (or may not) be downloaded; the
            message names the file, the URL and where to put it, and carries ``owner`` and
            ``argument`` so an entry point can name its config key.
    """
    tail = f" {hint}" if hint else ""
    if cache_path is None and url is not None:
        cache_path = hub_checkpoint_path(url_file_name(url))
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if path.is_file():
            return path
        advice = []
        if url is not None:
            advice.append(f"Download {url} and put it there")
        if cache_path is not None:
            advice.append(
                f"{'pass' if advice else 'Pass'} {argument}=None to use the torch cache ({cache_path})"
            )
        todo = f" {', or '.join(advice)}." if advice else ""
        raise WeightsNotFoundError(
            f"{what} not found: {path} does not exist ({argument}).{todo}{tail}",
            owner=owner,
            argument=argument,
        )
    if cache_path is None:
        raise WeightsNotFoundError(
            f"{what}: no file given; pass {argument}=<file>.{tail}", owner=owner, argument=argument
        )
    if cache_path.is_file():
        return cache_path
    if url is None:
        reason = "it is never downloaded automatically"
    elif allow_download:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(cache_path.name) if check_hash else None
        try:
            torch.hub.download_url_to_file(
                url, str(cache_path), hash_prefix=match.group(1) if match else None, progress=False
            )
            return cache_path
        except Exception as error:  # urllib/ssl/http/hash errors all mean "no usable download"
            reason = f"the download failed ({type(error).__name__}: {error})"
    else:
        reason = "downloads are off (allow_download=False)"
    fetch = f"Download {url} on a machine with internet and put" if url else "Put"
    raise WeightsNotFoundError(
        f"{what} not found: {cache_path} does not exist and {reason}. {fetch} the file at "
        f"{cache_path} (or anywhere, and pass {argument}=<path>).{tail}",
        owner=owner,
        argument=argument,
    )


def load_weights_file(
    path: str | Path,
    *,
    map_location: str | torch.device = "cpu",
    what: str = "weights",
    hint: str = "",
) -> object:
    """Read any file written by ``torch.save`` with ``weights_only=True`` (no code can run).

    Args:
        path: the file (a state_dict, one of our checkpoints, or any plain-state pickle).
        map_location: device the tensors are loaded onto.
        what: words naming the file in error messages (e.g. ``"checkpoint"``).
        hint: sentence appended to the not-found message saying what to put at ``path``.

    Returns:
        The unpickled object: tensors, containers and plain Python values only.

    Raises:
        WeightsNotFoundError: ``path`` does not exist (or is not a file).
        WeightsFileError: the file is empty, truncated, not a PyTorch file, or refused by
            ``weights_only=True``; the message is one sentence naming the path.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"{what} not found: {path} does not exist. {hint}".strip())
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as error:  # torch raises EOFError, RuntimeError, KeyError, UnpicklingError...
        raise _unreadable(path, what, error) from error


def load_state_dict_file(
    path: str | Path,
    *,
    map_location: str | torch.device = "cpu",
    what: str = "weights",
    hint: str = "",
) -> dict[str, torch.Tensor]:
    """Read a state_dict (or a checkpoint holding one under ``"state_dict"``) from disk.

    Args:
        path: file written by ``torch.save``; either a mapping ``name -> Tensor`` or a
            checkpoint dict whose ``"state_dict"`` entry is such a mapping (Lightning format).
        map_location: device the tensors are loaded onto.
        what: words naming the weights, used in error messages (e.g. ``"generator weights"``).
        hint: sentence appended to the not-found message saying what to put at ``path``.

    Returns:
        Flat mapping of parameter/buffer names to tensors; non-tensor entries are dropped.

    Raises:
        WeightsNotFoundError: ``path`` does not exist.
        WeightsFileError: the file cannot be read (see :func:`load_weights_file`) or holds no
            mapping of tensors.
    """
    obj = load_weights_file(path, map_location=map_location, what=what, hint=hint)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise WeightsFileError(
            f"{what} {Path(path).expanduser()} holds a {type(obj).__name__}, expected a "
            "state_dict (a dict of tensors) or a checkpoint dict with a 'state_dict' entry"
        )
    return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def strip_wrapper_prefixes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop ``_orig_mod.`` (torch.compile) and ``module.`` (DDP) components from every key.

    Args:
        state_dict: mapping of dotted parameter names to tensors.

    Returns:
        The same tensors under keys without wrapper components, e.g.
        ``generator._orig_mod.block_a.0.1.weight`` -> ``generator.block_a.0.1.weight``.
    """
    return {
        ".".join(part for part in key.split(".") if part not in WRAPPER_KEY_PARTS): value
        for key, value in state_dict.items()
    }


def select_prefixed(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keep the entries under ``prefix`` and remove the prefix from their keys.

    Args:
        state_dict: mapping of dotted parameter names to tensors.
        prefix: leading key part to select, including the trailing dot (``"generator."``).

    Returns:
        ``{key[len(prefix):]: tensor}`` for every key starting with ``prefix``; empty if none.
    """
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}


def describe_keys(keys: list[str] | tuple[str, ...], limit: int = 5) -> str:
    """Format the first ``limit`` keys for an error message, with the total count."""
    shown = ", ".join(repr(k) for k in list(keys)[:limit])
    more = f", ... ({len(keys)} keys in all)" if len(keys) > limit else ""
    return f"[{shown}{more}]" if keys else "[] (no tensors)"


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Count the scalar parameters of a module.

    Args:
        module: any ``nn.Module``.
        trainable_only: count only parameters with ``requires_grad=True``.

    Returns:
        Number of scalars, e.g. 2,143,552 for the AnimeGANv2 generator.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
