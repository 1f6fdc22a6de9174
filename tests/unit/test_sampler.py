from __future__ import annotations

from collections import Counter

import pytest

from animegan.data.sampler import UnpairedSampler


def test_length_and_ranges() -> None:
    sampler = UnpairedSampler(10, 4)
    pairs = list(sampler)
    assert len(pairs) == len(sampler) == 10  # max(num_photos, num_anime), as officially
    assert all(isinstance(p, tuple) and len(p) == 2 for p in pairs)
    assert all(isinstance(i, int) for p in pairs for i in p)
    assert sorted(p for p, _ in pairs) == list(range(10))  # every photo once
    anime_counts = Counter(a for _, a in pairs)
    assert set(anime_counts) == {0, 1, 2, 3}
    assert sorted(anime_counts.values()) == [2, 2, 3, 3]  # 10 over 4: balanced
    assert len(UnpairedSampler(3, 7)) == 7


def test_same_seed_and_epoch_give_same_sequence() -> None:
    a, b = UnpairedSampler(20, 15, seed=3), UnpairedSampler(20, 15, seed=3)
    assert list(a) == list(b)
    epoch0 = list(a)
    a.set_epoch(1)
    epoch1 = list(a)
    assert epoch1 != epoch0
    assert sorted(p for p, _ in epoch1) == list(range(20))
    a.set_epoch(0)
    assert list(a) == epoch0  # resume at an epoch reproduces it
    assert list(UnpairedSampler(20, 15, seed=4)) != epoch0


def test_pairing_changes_between_epochs_without_photo_shuffle() -> None:
    sampler = UnpairedSampler(6, 6, shuffle=False)
    epoch0 = list(sampler)
    assert [p for p, _ in epoch0] == list(range(6))
    sampler.set_epoch(1)
    assert [a for _, a in list(sampler)] != [a for _, a in epoch0]


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
