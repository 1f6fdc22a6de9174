"""The shared Evaluator: protocol, per-image scores, reference cache reuse, RNG hygiene."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from animegan.evaluation import LPIPSNetwork, RandomConvFeatures
from animegan.evaluation.evaluator import Evaluator, evenly_spaced


def write_images(folder: Path, count: int, size: int = 40, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)  # not square
        paths.append(folder / f"{index:02d}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


class CountingFeatures(RandomConvFeatures):
    """RandomConvFeatures that counts the images it has embedded."""

    def __init__(self) -> None:
        super().__init__(num_features=8, input_size=16)
        self.images_seen = 0

    def forward(self, images: Tensor) -> Tensor:
        self.images_seen += images.shape[0]
        return super().forward(images)


def make_evaluator(cache_dir: Path | None, **overrides: object) -> Evaluator:
    options: dict[str, object] = {
        "image_size": 32,
        "batch_size": 3,
        "fid_features": CountingFeatures(),
        "kid_subsets": 5,
        "lpips": LPIPSNetwork(backbone="random"),
        "diversity_images": 4,
        "cache_dir": cache_dir,
        "num_grid_images": 2,
    }
    return Evaluator(**(options | overrides))


def test_evenly_spaced_keeps_order_and_spread() -> None:
    items = [Path(str(i)) for i in range(10)]
    assert evenly_spaced(items, 3) == [Path("0"), Path("3"), Path("6")]
    assert evenly_spaced(items, None) == items and evenly_spaced(items, 50) == items


def test_identity_generator_on_its_own_references(tmp_path: Path) -> None:
    """Stylizing with nn.Identity and comparing to the same images: FID 0, content LPIPS 0."""
    photos = write_images(tmp_path / "photos", 5)

    def flatten(crops: Tensor) -> Tensor:
        return crops.flatten(1)

    evaluator = make_evaluator(None, identity_model=flatten)
    result = evaluator.evaluate(nn.Identity(), photos, photos)
    assert result.metrics["fid"] == pytest.approx(0.0, abs=1e-6)
    assert result.metrics["lpips_content"] == 0.0
    assert result.metrics["identity"] == pytest.approx(1.0)
    assert result.metrics["identity_median"] == pytest.approx(1.0)
    assert result.metrics["lpips_diversity"] > 0
    assert set(result.metrics) == {
        "fid",
        "kid_mean",
        "kid_std",
        "lpips_content",
        "lpips_diversity",
        "identity",
        "identity_p05",
        "identity_median",
        "identity_share_below",
    }
    assert result.metrics["identity_share_below"] == 0.0  # every cosine is 1 > 0.5
    assert [row["index"] for row in result.per_image] == list(range(5))
    assert [row["photo"] for row in result.per_image] == [str(p) for p in photos]
    assert all(row["lpips_content"] == 0.0 for row in result.per_image)
    assert result.photos.shape == result.fakes.shape == (2, 3, 32, 32)
    assert result.photos.dtype == torch.uint8 and torch.equal(result.photos, result.fakes)
    assert result.info["kid_subset_size"] == 5 and result.info["num_reference"] == 5


def test_fakes_are_the_generator_output_quantised(tmp_path: Path) -> None:
    photos = write_images(tmp_path / "photos", 2)
    result = make_evaluator(None).evaluate(nn.Tanh(), photos, photos)
    # Tanh of x in [-1, 1] moves every pixel toward 0: the stylized image is lower contrast.
    assert result.fakes.float().std() < result.photos.float().std()
    expected = ((torch.tanh(result.photos.float() / 127.5 - 1) + 1) * 127.5).round()
    assert torch.equal(result.fakes, expected.to(torch.uint8))
    assert result.metrics["fid"] > 0 and result.metrics["lpips_content"] > 0


def test_reference_features_are_cached_and_reused(tmp_path: Path) -> None:
    photos = write_images(tmp_path / "photos", 4, seed=1)
    references = write_images(tmp_path / "anime", 6, seed=2)
    cache_dir = tmp_path / "cache"

    first = make_evaluator(cache_dir)
    result_first = first.evaluate(nn.Identity(), photos, references)
    assert result_first.info["reference_cache_hit"] is False
    assert first.fid_features.images_seen == 6 + 4  # references + stylized photos
    assert len(list(cache_dir.glob("*.pt"))) == 1

    second = make_evaluator(cache_dir)  # a new process would build a new Evaluator
    result_second = second.evaluate(nn.Identity(), photos, references)
    assert result_second.info["reference_cache_hit"] is True
    assert second.fid_features.images_seen == 4  # only the stylized photos
    assert result_second.metrics == result_first.metrics

    third = make_evaluator(cache_dir, num_reference=3)  # another reference list: recomputed
    assert third.evaluate(nn.Identity(), photos, references).info["reference_cache_hit"] is False
    assert third.fid_features.images_seen == 3 + 4


def test_evaluation_leaves_generator_mode_and_global_rng_alone(tmp_path: Path) -> None:
    photos = write_images(tmp_path / "photos", 3)
    generator = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Tanh()).train()
    evaluator = make_evaluator(None)
    state = torch.get_rng_state()
    evaluator.evaluate(generator, photos, photos)
    assert generator.training
    assert torch.equal(torch.get_rng_state(), state)


def test_lpips_only_needs_no_references(tmp_path: Path) -> None:
    photos = write_images(tmp_path / "photos", 3)
    evaluator = make_evaluator(None, fid_features=None)
    result = evaluator.evaluate(nn.Identity(), photos)
    assert set(result.metrics) == {"lpips_content", "lpips_diversity"}
    with pytest.raises(ValueError, match="at least 2 reference"):
        make_evaluator(None).evaluate(nn.Identity(), photos, photos[:1])
