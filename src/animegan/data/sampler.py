"""Sampler of unpaired training indices, deterministic, distributed-aware and resumable.

Every random choice of an epoch (photo order, anime pairing, the smoothed-anime stream and a
per-sample seed that drives every augmentation draw) is a pure function of ``(seed, epoch,
position in the epoch)``. Dataloader workers and a resumed run therefore see the same samples
without any random state being saved.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = ["SMOOTH_PAIRINGS", "SmoothPairing", "UnpairedIndex", "UnpairedSampler"]

# Mixes (seed, epoch) into one generator seed so that (seed, epoch + 1) and (seed + 1, epoch)
# give different streams (DistributedSampler's plain seed + epoch would not).
_SEED_STRIDE = 1_000_003

# Spawn keys of the streams drawn from np.random.SeedSequence([seed, epoch, key]); the photo and
# anime streams keep the torch generator above, so their sequences do not depend on the others.
_SMOOTH_STREAM = 1
_SAMPLE_SEED_STREAM = 2

# Per-sample seeds are drawn in [0, 2**63) so that they fit an int64 tensor.
_SAMPLE_SEED_BOUND = 2**63 - 1

SmoothPairing = Literal["independent", "same"]
SMOOTH_PAIRINGS: tuple[str, ...] = ("independent", "same")


class UnpairedIndex(NamedTuple):
    """One training sample's indices; a tuple, so ``index[0]`` is the photo index.

    Attributes:
        photo: index into the training photos.
        anime: index into the anime images (colour anime and its gray for D).
        smooth: index of the anime image whose edge-smoothed gray D sees as a fake
            (``== anime`` under ``smooth_pairing="same"``).
        seed: seed of every augmentation draw of this sample, in ``[0, 2**63)``.
    """

    photo: int
    anime: int
    smooth: int
    seed: int


def _cycled_permutations(n: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``length`` indices in ``[0, n)``: concatenated random permutations, truncated.

    Every index appears ``floor(length / n)`` or one more times; each draw is uniform.
    """
    rounds = math.ceil(length / n)
    return torch.cat([torch.randperm(n, generator=generator) for _ in range(rounds)])[:length]


def _stream_seed(seed: int, epoch: int, stream: int) -> int:
    """A 63-bit seed for one named stream of one epoch."""
    state = np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


class UnpairedSampler(Sampler[UnpairedIndex]):
    """Yields :class:`UnpairedIndex` samples: a photo, an unrelated anime image, a smoothed anime.

    An epoch has ``max(num_photos, num_anime)`` samples, as in the official trainer (each domain is
    an endless shuffled stream). Photos and anime are both taken from concatenated random
    permutations, so every image is used about equally often and the pairing changes every
    epoch. Under ``smooth_pairing="independent"`` (the official recipe: ``AnimeGANv2.py`` builds a
    third, separately shuffled image stream for the smoothed images) the smoothed anime comes from
    its own permutation stream, so D sees gray(anime A) beside smooth-gray(anime B); ``"same"``
    pairs each anime image with its own smoothed version. Everything depends only on ``(seed,
    epoch)`` and the position in the epoch; call :meth:`set_epoch` each epoch (Lightning does).

    Under ``torch.distributed`` (initialised at iteration time), each rank takes
    ``samples[rank::world_size]`` after padding the epoch with its first samples to a multiple of
    ``world_size`` (or dropping the tail when ``drop_last``), like ``DistributedSampler``. Use
    Lightning's ``use_distributed_sampler=False`` so the trainer does not shard a second time.

    Args:
        num_photos: number of training photos, > 0.
        num_anime: number of training anime images, > 0.
        shuffle: shuffle the photo order (the anime pairing is always random).
        seed: base seed, >= 0; the same on every rank.
        drop_last: drop the tail instead of padding when sharding.
        num_replicas: world size override (default: from ``torch.distributed``, else 1).
        rank: rank override (default: from ``torch.distributed``, else 0).
        epoch_length: samples per epoch before sharding; default ``max(num_photos, num_anime)``.
        smooth_pairing: ``"independent"`` (official) or ``"same"``.
    """

    def __init__(
        self,
        num_photos: int,
        num_anime: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
        epoch_length: int | None = None,
        smooth_pairing: SmoothPairing = "independent",
    ) -> None:
        if num_photos <= 0 or num_anime <= 0:
            raise ValueError(f"need images in both domains, got {num_photos=} {num_anime=}")
        if num_replicas is not None and num_replicas <= 0:
            raise ValueError(f"num_replicas must be positive, got {num_replicas}")
        if rank is not None and num_replicas is not None and not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside [0, {num_replicas})")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if smooth_pairing not in SMOOTH_PAIRINGS:
            raise ValueError(
                f"smooth_pairing must be one of {', '.join(SMOOTH_PAIRINGS)}, got {smooth_pairing!r}"
            )
        self.num_photos = int(num_photos)
        self.num_anime = int(num_anime)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch_length = int(epoch_length or max(self.num_photos, self.num_anime))
        self.smooth_pairing: SmoothPairing = smooth_pairing
        self.epoch = 0
        # (epoch, samples of this rank to skip) for the next iteration of that epoch only.
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose sample sequence the next ``__iter__`` yields.

        Selecting another epoch than a pending :meth:`resume_from` cancels its skip.
        """
        self.epoch = int(epoch)
        if self._resume is not None and self._resume[0] != self.epoch:
            self._resume = None

    def resume_from(self, epoch: int, consumed: int) -> None:
        """Make the next iteration of ``epoch`` skip its first ``consumed`` samples of this rank.

        Used to resume mid-epoch: the remaining samples are exactly those an uninterrupted run
        would have drawn. Also selects ``epoch``.

        Args:
            epoch: the epoch being resumed, >= 0.
            consumed: samples of this rank already trained on in that epoch, >= 0.
        """
        if epoch < 0 or consumed < 0:
            raise ValueError(f"epoch and consumed must be >= 0, got {epoch=} {consumed=}")
        self.epoch = int(epoch)
        self._resume = (int(epoch), int(consumed))

    @property
    def pending_skip(self) -> int:
        """Samples the next iteration skips.

        0 unless :meth:`resume_from` set a skip for the selected epoch.
        """
        if self._resume is not None and self._resume[0] == self.epoch:
            return min(self._resume[1], len(self))
        return 0

    def _world(self) -> tuple[int, int]:
        distributed = dist.is_available() and dist.is_initialized()
        world = self.num_replicas or (dist.get_world_size() if distributed else 1)
        rank = self.rank if self.rank is not None else (dist.get_rank() if distributed else 0)
        return world, rank

    def _per_rank(self, world: int) -> int:
        if self.drop_last:
            return self.epoch_length // world
        return math.ceil(self.epoch_length / world)

    def __len__(self) -> int:
        return self._per_rank(self._world()[0])

    def epoch_samples(self, epoch: int) -> torch.Tensor:
        """The whole epoch before sharding, a pure function of ``(seed, epoch)``.

        Returns ``int64 [epoch_length, 4]`` rows of ``(photo, anime, smooth, seed)``.
        """
        generator = torch.Generator()
        generator.manual_seed(self.seed * _SEED_STRIDE + epoch)
        if self.shuffle:
            photos = _cycled_permutations(self.num_photos, self.epoch_length, generator)
        else:
            photos = torch.arange(self.epoch_length) % self.num_photos
        anime = _cycled_permutations(self.num_anime, self.epoch_length, generator)
        if self.smooth_pairing == "independent":
            smooth_generator = torch.Generator()
            smooth_generator.manual_seed(_stream_seed(self.seed, epoch, _SMOOTH_STREAM))
            smooth = _cycled_permutations(self.num_anime, self.epoch_length, smooth_generator)
        else:
            smooth = anime
        seed_rng = np.random.default_rng(_stream_seed(self.seed, epoch, _SAMPLE_SEED_STREAM))
        seeds = torch.from_numpy(
            seed_rng.integers(0, _SAMPLE_SEED_BOUND, self.epoch_length, dtype=np.int64)
        )
        return torch.stack([photos, anime, smooth, seeds], dim=1)  # [epoch_length, 4]

    def __iter__(self) -> Iterator[UnpairedIndex]:
        world, rank = self._world()
        skip = self.pending_skip
        self._resume = None
        samples = self.epoch_samples(self.epoch)
        total = self._per_rank(world) * world
        if total > len(samples):
            repeats = math.ceil(total / len(samples))
            samples = samples.repeat(repeats, 1)
        samples = samples[:total][rank::world][skip:]
        yield from (UnpairedIndex(*row) for row in samples.tolist())
