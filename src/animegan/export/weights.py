"""Weight-format conversion: this repository's checkpoints <-> animegan2-pytorch ``.pt`` files.

The animegan2-pytorch format is a plain generator ``state_dict`` (77 tensors, keys like
``block_a.0.1.weight``) that the port's ``Generator`` loads with ``strict=True``. Our
:class:`~animegan.models.Generator` has the same layout, so both directions are
:func:`animegan.models.load_generator` / :func:`animegan.models.export_state_dict` plus a
check that the written file really reloads to the same weights and outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from animegan.models import Generator, export_state_dict, load_generator
from animegan.models.weights import load_state_dict_file

__all__ = ["RoundTripReport", "export_pt", "import_pt", "verify_pt"]


@dataclass(frozen=True)
class RoundTripReport:
    """Outcome of :func:`verify_pt`.

    Attributes:
        path: the checked file.
        num_tensors: tensors in the file (77 for the AnimeGANv2 generator).
        weights_equal: every tensor equals the source generator's bit for bit.
        max_abs_diff: largest output difference on a random 64x64 photo (0.0 when equal).
    """

    path: Path
    num_tensors: int
    weights_equal: bool
    max_abs_diff: float

    @property
    def passed(self) -> bool:
        """Weights identical and outputs identical."""
        return self.weights_equal and self.max_abs_diff == 0.0

    def format(self) -> str:
        """One-line summary."""
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{verdict}: {self.path} holds {self.num_tensors} tensors, weights "
            f"{'identical' if self.weights_equal else 'DIFFERENT'}, max output diff "
            f"{self.max_abs_diff:.1e} (strict=True load)"
        )


def export_pt(
    weights: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    prefix: str = "generator.",
) -> Path:
    """Write a checkpoint's (or any loadable file's) generator in the animegan2-pytorch format.

    Args:
        weights: training checkpoint of this repository or a generator ``.pt``.
        out: output ``.pt`` file.
        prefix: key prefix of the generator inside a training checkpoint.

    Returns:
        The written path.
    """
    return export_state_dict(load_generator(weights, prefix=prefix), out)


def import_pt(path: str | os.PathLike[str], map_location: str = "cpu") -> Generator:
    """Load an animegan2-pytorch ``.pt`` (e.g. ``face_paint_512_v2.pt``, ``paprika.pt``).

    Args:
        path: plain generator state_dict, read with ``weights_only=True``.
        map_location: device for the weights.

    Returns:
        Generator in eval mode (loaded with ``strict=True``).

    Raises:
        ValueError: the file is a training checkpoint rather than a plain ``.pt``, or its keys
            do not fit the generator.
    """
    state = load_state_dict_file(path, what="generator weights")
    if any(key.startswith("generator.") for key in state):
        raise ValueError(
            f"{path} is a training checkpoint, not an animegan2-pytorch .pt; convert it with "
            f"`animegan export --to-pt --weights {path} --out generator.pt`."
        )
    return load_generator(path, map_location=map_location, prefix="")


def verify_pt(path: str | os.PathLike[str], source: Generator, *, seed: int = 0) -> RoundTripReport:
    """Check that a written ``.pt`` reloads strictly to the source generator's weights/outputs.

    Args:
        path: file written by :func:`export_pt`.
        source: the generator it was written from.
        seed: seed of the local random generator for the test photo.

    Returns:
        :class:`RoundTripReport`.
    """
    reloaded = import_pt(path)
    state = load_state_dict_file(path)
    source_state = {k: v.detach().cpu() for k, v in source.state_dict().items()}
    weights_equal = set(state) == set(source_state) and all(
        torch.equal(state[k], source_state[k]) for k in state
    )
    photo = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    with torch.inference_mode():
        diff = (reloaded(photo) - source.to("cpu").eval()(photo)).abs().max().item()
    return RoundTripReport(
        path=Path(path),
        num_tensors=len(state),
        weights_equal=weights_equal,
        max_abs_diff=float(diff),
    )
