"""Training-loader pieces: the resumable loader over :class:`UnpairedSampler`, seeded collation."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from animegan.data.datasets import SAMPLE_SEED_KEY
from animegan.data.sampler import UnpairedSampler

__all__ = ["BatchTransform", "ResumableDataLoader", "SeededCollate"]


# Batch-level augmentation on a collated training batch, e.g. StyleMixup; it may take a keyword
# ``seed`` (int >= 0) that makes its draws a function of the batch's samples.
BatchTransform = Callable[..., dict[str, Any]]


def _batch_seed(sample_seeds: Sequence[int]) -> int:
    """One 63-bit seed from the per-sample seeds of a batch (order-sensitive)."""
    state = np.random.SeedSequence([int(seed) for seed in sample_seeds]).generate_state(2)
    return (int(state[0]) << 31) ^ int(state[1])


class SeededCollate:
    """``default_collate`` without the per-sample seeds, then an optional batch transform.

    The batch transform gets ``seed=`` derived from the batch's sample seeds when it accepts one,
    so batch-level augmentation is as reproducible as the per-sample pipelines. A class so
    workers can pickle it.
    """

    def __init__(self, batch_transform: BatchTransform | None = None) -> None:
        self.batch_transform = batch_transform
        self._takes_seed = False
        if batch_transform is not None:
            try:
                parameters = inspect.signature(batch_transform).parameters
            except (TypeError, ValueError):
                parameters = {}
            self._takes_seed = "seed" in parameters

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Collate ``samples`` and run the batch transform seeded by their per-sample seeds."""
        seeds = [sample[SAMPLE_SEED_KEY] for sample in samples if SAMPLE_SEED_KEY in sample]
        batch = default_collate(
            [{k: v for k, v in sample.items() if k != SAMPLE_SEED_KEY} for sample in samples]
        )
        if self.batch_transform is None:
            return batch
        if self._takes_seed and len(seeds) == len(samples):
            return self.batch_transform(batch, seed=_batch_seed([int(s) for s in seeds]))
        return self.batch_transform(batch)


class ResumableDataLoader(DataLoader):
    """A training ``DataLoader`` over an :class:`UnpairedSampler` that resumes mid-epoch exactly.

    Lightning stores ``state_dict()`` in every checkpoint (a loader with ``state_dict`` /
    ``load_state_dict`` is "stateful" to it) and calls ``load_state_dict`` when a run restarts
    inside an epoch; the sampler then skips the batches already trained on, and since every
    sample is a function of ``(seed, epoch, position)`` the rest of the epoch is what an
    uninterrupted run would have seen.

    Iteration is lazy: worker processes start, and the sampler reads its epoch, at the first
    ``next()``. When a run resumes, Lightning calls ``iter()`` before ``set_epoch``; an eager
    multi-worker iterator would already have drawn the first batches of the wrong epoch.

    Args:
        dataset: the training dataset.
        sampler: the :class:`UnpairedSampler` (it must not be wrapped in another sampler).
        batch_size: samples per batch; incomplete last batches are always dropped.
        **kwargs: other ``DataLoader`` arguments (workers, collate_fn, pin_memory, ...).
    """

    def __init__(
        self, dataset: Dataset, sampler: UnpairedSampler, batch_size: int, **kwargs: Any
    ) -> None:
        if isinstance(sampler, DistributedSampler):
            # Lightning rebuilds the loader with its DistributedSamplerWrapper when the Trainer
            # runs with use_distributed_sampler=True on several devices.
            raise ValueError(
                "UnpairedSampler shards by rank itself; Lightning would shard a second time. "
                "Create the Trainer with use_distributed_sampler=False."
            )
        if not isinstance(sampler, UnpairedSampler):
            raise TypeError(f"ResumableDataLoader needs an UnpairedSampler, got {sampler!r}")
        kwargs.pop("drop_last", None)
        super().__init__(dataset, sampler=sampler, batch_size=batch_size, drop_last=True, **kwargs)
        self._epoch = sampler.epoch
        self._batches_done = 0

    def __iter__(self) -> Iterator[Any]:
        return self._iterate()

    def _iterate(self) -> Iterator[Any]:
        sampler = self.sampler
        assert isinstance(sampler, UnpairedSampler) and self.batch_size is not None
        self._epoch = sampler.epoch
        self._batches_done = sampler.pending_skip // self.batch_size
        for batch in super().__iter__():
            self._batches_done += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Where the loader is, for a checkpoint.

        ``epoch`` being iterated, ``batches`` of it handed out so far and the matching number of
        ``samples`` (what a resume skips).
        """
        assert self.batch_size is not None
        return {
            "epoch": self._epoch,
            "batches": self._batches_done,
            "samples": self._batches_done * self.batch_size,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Make the next iteration of the saved epoch skip the samples already trained on."""
        try:
            epoch, samples = int(state_dict["epoch"]), int(state_dict["samples"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"the checkpoint's training-loader state {dict(state_dict)!r} is not one this "
                "repository writes (epoch, batches, samples); resume from a checkpoint written "
                "by this code or from an end-of-epoch checkpoint"
            ) from error
        sampler = self.sampler
        assert isinstance(sampler, UnpairedSampler)
        sampler.resume_from(epoch, samples)
