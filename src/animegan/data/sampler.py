"""Sampler of unpaired (photo_index, anime_index) pairs, deterministic and distributed-aware."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = ["UnpairedSampler"]

# Mixes (seed, epoch) into one generator seed so that (seed, epoch + 1) and (seed + 1, epoch)
# give different streams (DistributedSampler's plain seed + epoch would not).
_SEED_STRIDE = 1_000_003


def _cycled_permutations(n: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``length`` indices in ``[0, n)``: concatenated random permutations, truncated.

    Every index appears ``floor(length / n)`` or one more times; each draw is uniform.
    """
    rounds = math.ceil(length / n)
    return torch.cat([torch.randperm(n, generator=generator) for _ in range(rounds)])[:length]


class UnpairedSampler(Sampler[tuple[int, int]]):
    """Yields ``(photo_index, anime_index)`` pairs with the anime drawn independently at random.

    An epoch has ``max(num_photos, num_anime)`` pairs, as in the official trainer (each domain is
    an endless shuffled stream). Photos and anime are both taken from concatenated random
    permutations, so every image is used about equally often and the pairing changes every
    epoch. The stream depends only on ``(seed, epoch)``; call :meth:`set_epoch` each epoch
    (Lightning does) to change it.

    Under ``torch.distributed`` (initialised at iteration time), each rank takes
    ``pairs[rank::world_size]`` after padding the epoch with its first pairs to a multiple of
    ``world_size`` (or dropping the tail when ``drop_last``), like ``DistributedSampler``. Use
    Lightning's ``use_distributed_sampler=False`` so the trainer does not shard a second time.

    Args:
        num_photos: number of training photos, > 0.
        num_anime: number of training anime images, > 0.
        shuffle: shuffle the photo order (the anime pairing is always random).
        seed: base seed; the same on every rank.
        drop_last: drop the tail instead of padding when sharding.
        num_replicas: world size override (default: from ``torch.distributed``, else 1).
        rank: rank override (default: from ``torch.distributed``, else 0).
        epoch_length: pairs per epoch before sharding; default ``max(num_photos, num_anime)``.
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
    ) -> None:
        if num_photos <= 0 or num_anime <= 0:
            raise ValueError(f"need images in both domains, got {num_photos=} {num_anime=}")
        if num_replicas is not None and num_replicas <= 0:
            raise ValueError(f"num_replicas must be positive, got {num_replicas}")
        if rank is not None and num_replicas is not None and not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside [0, {num_replicas})")
        self.num_photos = int(num_photos)
        self.num_anime = int(num_anime)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch_length = int(epoch_length or max(self.num_photos, self.num_anime))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose pair sequence the next ``__iter__`` yields."""
        self.epoch = int(epoch)

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

    def __iter__(self) -> Iterator[tuple[int, int]]:
        world, rank = self._world()
        generator = torch.Generator()
        generator.manual_seed(self.seed * _SEED_STRIDE + self.epoch)
        if self.shuffle:
            photos = _cycled_permutations(self.num_photos, self.epoch_length, generator)
        else:
            photos = torch.arange(self.epoch_length) % self.num_photos
        anime = _cycled_permutations(self.num_anime, self.epoch_length, generator)
        pairs = torch.stack([photos, anime], dim=1)  # [epoch_length, 2]

        total = self._per_rank(world) * world
        if total > len(pairs):
            repeats = math.ceil(total / len(pairs))
            pairs = pairs.repeat(repeats, 1)
        pairs = pairs[:total][rank::world]
        yield from ((photo_index, anime_index) for photo_index, anime_index in pairs.tolist())
