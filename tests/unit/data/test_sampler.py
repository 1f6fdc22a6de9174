from __future__ import annotations

from collections import Counter

import pytest

from animegan.data.sampler import UnpairedIndex, UnpairedSampler


def _pairs(samples: list[UnpairedIndex]) -> list[tuple[int, int]]:
    return [(s.photo, s.anime) for s in samples]


def test_length_and_ranges() -> None:
    sampler = UnpairedSampler(10, 4)
    samples = list(sampler)
    assert len(samples) == len(sampler) == 10  # max(num_photos, num_anime), as officially
    assert all(isinstance(s, UnpairedIndex) and len(s) == 4 for s in samples)
    assert all(isinstance(i, int) for s in samples for i in s)
    assert sorted(s.photo for s in samples) == list(range(10))  # every photo once
    anime_counts = Counter(s.anime for s in samples)
    assert set(anime_counts) == {0, 1, 2, 3}
    assert sorted(anime_counts.values()) == [2, 2, 3, 3]  # 10 over 4: balanced
    smooth_counts = Counter(s.smooth for s in samples)
    assert sorted(smooth_counts.values()) == [2, 2, 3, 3]  # its own balanced stream
    assert all(0 <= s.seed < 2**63 for s in samples)
    assert len({s.seed for s in samples}) == 10
    assert len(UnpairedSampler(3, 7)) == 7


def test_same_seed_and_epoch_give_same_sequence() -> None:
    a, b = UnpairedSampler(20, 15, seed=3), UnpairedSampler(20, 15, seed=3)
    assert list(a) == list(b)
    epoch0 = list(a)
    a.set_epoch(1)
    epoch1 = list(a)
    assert epoch1 != epoch0
    assert {s.seed for s in epoch1}.isdisjoint({s.seed for s in epoch0})
    assert sorted(s.photo for s in epoch1) == list(range(20))
    a.set_epoch(0)
    assert list(a) == epoch0  # resume at an epoch reproduces it
    assert list(UnpairedSampler(20, 15, seed=4)) != epoch0


def test_smooth_stream_is_independent_and_deterministic() -> None:
    independent = list(UnpairedSampler(40, 30, seed=2))
    assert sum(s.smooth != s.anime for s in independent) > 30  # 1/30 chance of a match each
    assert list(UnpairedSampler(40, 30, seed=2)) == independent
    same = list(UnpairedSampler(40, 30, seed=2, smooth_pairing="same"))
    assert all(s.smooth == s.anime for s in same)
    # The photo/anime pairing does not depend on the smooth pairing.
    assert _pairs(same) == _pairs(independent)
    with pytest.raises(ValueError, match="smooth_pairing"):
        UnpairedSampler(3, 3, smooth_pairing="shuffled")  # type: ignore[arg-type]


def test_resume_from_skips_consumed_samples_once() -> None:
    sampler = UnpairedSampler(12, 9, seed=5)
    sampler.set_epoch(3)
    full = list(sampler)
    sampler.resume_from(3, 4)
    sampler.set_epoch(3)  # Lightning sets the epoch again after loading the loader state
    assert sampler.pending_skip == 4
    assert list(sampler) == full[4:]
    assert list(sampler) == full  # the skip applies to one iteration only
    sampler.resume_from(3, 4)
    sampler.set_epoch(4)  # another epoch: no skip
    sampler.set_epoch(3)
    assert sampler.pending_skip == 0


def test_pairing_changes_between_epochs_without_photo_shuffle() -> None:
    sampler = UnpairedSampler(6, 6, shuffle=False)
    epoch0 = list(sampler)
    assert [s.photo for s in epoch0] == list(range(6))
    sampler.set_epoch(1)
    assert [s.anime for s in sampler] != [s.anime for s in epoch0]


def test_sharding_pads_like_distributed_sampler() -> None:
    full = list(UnpairedSampler(10, 5, seed=1))
    padded = full + full[:2]  # 10 -> 12 = 3 ranks x 4
    shards = [list(UnpairedSampler(10, 5, seed=1, num_replicas=3, rank=r)) for r in range(3)]
    for rank, shard in enumerate(shards):
        assert len(shard) == len(UnpairedSampler(10, 5, num_replicas=3, rank=rank)) == 4
        assert shard == padded[rank::3]
    assert Counter(sum(shards, [])) == Counter(padded)


def test_sharding_drop_last() -> None:
    full = list(UnpairedSampler(10, 5, seed=1))
    shards = [
        list(UnpairedSampler(10, 5, seed=1, drop_last=True, num_replicas=3, rank=r))
        for r in range(3)
    ]
    assert [len(s) for s in shards] == [3, 3, 3]
    assert shards[1] == full[:9][1::3]


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        UnpairedSampler(0, 3)
    with pytest.raises(ValueError):
        UnpairedSampler(3, 3, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="seed"):
        UnpairedSampler(3, 3, seed=-1)
