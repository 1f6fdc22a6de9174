"""Metric math and metric networks: FID, KID, LPIPS, identity, weight lookup (all offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from animegan.evaluation import (
    InceptionFeatures,
    LPIPSNetwork,
    RandomConvFeatures,
    ReferenceFeatureCache,
    diversity_lpips,
    frechet_distance,
    identity_similarity,
    inception_cache_path,
    kernel_inception_distance,
    lpips_backbone_cache_path,
)
from animegan.evaluation.inception import INCEPTION_URL
from animegan.models import WeightsNotFoundError


@pytest.fixture(autouse=True)
def offline_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch cache and a download function that fails: no test can reach the network."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))

    def no_network(url: str, *args: object, **kwargs: object) -> None:
        raise OSError(f"network disabled in tests ({url})")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return home


def random_images(count: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 3, size, size, generator=generator) * 2 - 1


# ------------------------------------------------------------------------------------ FID
def test_fid_of_a_set_with_itself_is_zero() -> None:
    features = RandomConvFeatures(num_features=8, input_size=16)(random_images(32))
    assert abs(frechet_distance(features, features)) < 1e-6


def test_fid_of_a_shifted_set_is_the_squared_shift() -> None:
    # Same covariance, means differ by c: FID = |c|^2 (the trace term cancels).
    real = torch.randn(40, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    assert frechet_distance(real, real + shift) == pytest.approx(1 + 4 + 0.25, rel=1e-6)


def test_fid_grows_as_fakes_drift_away() -> None:
    extractor = RandomConvFeatures(num_features=8, input_size=16)
    photos = random_images(48)
    real = extractor(photos)
    values = [
        frechet_distance(real, extractor((photos + drift).clamp(-1, 1)))
        for drift in (0.0, 0.2, 0.5, 1.0)
    ]
    assert values[0] < 1e-6
    assert values == sorted(values) and values[1] > 1e-3


class Precomputed(torch.nn.Module):
    """Identity "extractor": torchmetrics then computes its statistics on given features."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


@pytest.mark.parametrize("count", [12, 40])  # fewer samples than features (Gram form), more
def test_fid_matches_torchmetrics(count: int) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    generator = torch.Generator().manual_seed(count)
    real = torch.randn(count, 16, generator=generator, dtype=torch.float64)
    fake = torch.randn(count + 3, 16, generator=generator, dtype=torch.float64) * 1.5 + 0.3
    metric = FrechetInceptionDistance(feature=Precomputed(16))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    assert frechet_distance(real, fake) == pytest.approx(float(metric.compute()), rel=1e-8)


def test_kid_matches_torchmetrics_subsets_and_estimator() -> None:
    from torchmetrics.image.kid import KernelInceptionDistance

    generator = torch.Generator().manual_seed(0)
    real = torch.randn(30, 8, generator=generator, dtype=torch.float64)
    fake = torch.randn(25, 8, generator=generator, dtype=torch.float64) + 0.2
    with pytest.warns(UserWarning):
        metric = KernelInceptionDistance(feature=Precomputed(8), subsets=7, subset_size=10)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    with torch.random.fork_rng():
        torch.manual_seed(5)
        expected_mean, expected_std = metric.compute()
    mean, std, size = kernel_inception_distance(real, fake, subsets=7, subset_size=10, seed=5)
    assert size == 10
    assert mean == pytest.approx(float(expected_mean), rel=1e-9)
    assert std == pytest.approx(float(expected_std), rel=1e-9)


def test_fid_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(torch.zeros(1, 4), torch.zeros(5, 4))


# ------------------------------------------------------------------------------------ KID
def test_kid_with_a_small_set_matches_the_hand_computed_mmd() -> None:
    """Subset size is lowered to the set size (4), so every subset is the whole set."""
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -1.0]], dtype=torch.float64)
    fake = real * 0.5
    mean, std, size = kernel_inception_distance(real, fake, subsets=3, subset_size=1000)
    assert size == 4

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (x.y / d + 1)^3
        return (a @ b.T / a.shape[1] + 1) ** 3

    x, y, m = real.numpy(), fake.numpy(), 4
    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    off_diagonal = k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)
    expected = off_diagonal / (m * (m - 1)) - 2 * k_xy.sum() / m**2
    assert mean == pytest.approx(expected, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_grows_with_drift_and_is_reproducible() -> None:
    extractor = RandomConvFeatures(num_features=8, input_size=16)
    photos = random_images(24)
    real = extractor(photos)
    near = kernel_inception_distance(real, extractor(photos), subsets=20, subset_size=8)
    far = kernel_inception_distance(
        real, extractor((photos + 0.8).clamp(-1, 1)), subsets=20, subset_size=8
    )
    assert abs(near[0]) < far[0]
    again = kernel_inception_distance(real, extractor(photos), subsets=20, subset_size=8)
    assert again == near


def test_kid_leaves_the_global_rng_alone() -> None:
    real, fake = torch.randn(10, 3), torch.randn(10, 3)
    state = torch.get_rng_state()
    kernel_inception_distance(real, fake, subsets=5, subset_size=5)
    assert torch.equal(torch.get_rng_state(), state)


# ---------------------------------------------------------------------------------- LPIPS
@pytest.fixture(scope="module")
def lpips() -> LPIPSNetwork:
    return LPIPSNetwork(backbone="random", seed=0)


def test_lpips_of_an_image_with_itself_is_zero(lpips: LPIPSNetwork) -> None:
    images = random_images(3)
    assert torch.equal(lpips(images, images), torch.zeros(3))
    assert (lpips(images, random_images(3, seed=1)) > 0).all()


def test_lpips_matches_torchmetrics_forward(lpips: LPIPSNetwork) -> None:
    a, b = random_images(2), random_images(2, seed=3)
    expected = lpips.lpips(a, b).flatten()  # torchmetrics' own _LPIPS.forward
    torch.testing.assert_close(lpips(a, b), expected, rtol=1e-5, atol=1e-7)


def test_diversity_is_the_mean_over_all_pairs(lpips: LPIPSNetwork) -> None:
    images = random_images(3)
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = sum(float(lpips(images[i : i + 1], images[j : j + 1])) for i, j in pairs) / 3
    assert diversity_lpips(lpips, images, batch_size=2) == pytest.approx(expected, rel=1e-5)
    same = images[:1].repeat(4, 1, 1, 1)
    assert diversity_lpips(lpips, same) == 0.0


def test_random_backbone_is_seeded_and_leaves_the_global_rng_alone() -> None:
    state = torch.get_rng_state()
    first = LPIPSNetwork(backbone="random", seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    second = LPIPSNetwork(backbone="random", seed=5)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


# ------------------------------------------------------------------------------- identity
def test_identity_similarity_is_the_cosine_of_embeddings() -> None:
    def flatten(crops: torch.Tensor) -> torch.Tensor:
        return crops.flatten(1)

    photo = random_images(2, size=16)
    assert torch.allclose(identity_similarity(flatten, photo, photo), torch.ones(2))
    assert torch.allclose(identity_similarity(flatten, photo, -photo), -torch.ones(2))

    def no_face_on_second(photo, fake):  # a detector that finds a face in photo 0 only
        return photo, fake, torch.tensor([True, False])

    values = identity_similarity(flatten, photo, photo, no_face_on_second)
    assert values[0] == pytest.approx(1.0) and torch.isnan(values[1])


# -------------------------------------------------------------------------------- weights
def test_missing_inception_weights_name_the_file_and_the_url(offline_torch_home: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as error:
        InceptionFeatures(allow_download=False)
    message = str(error.value)
    assert str(inception_cache_path()) in message and INCEPTION_URL in message
    assert str(offline_torch_home) in message and "RandomConvFeatures" in message
    assert "metrics." not in message  # library code names its arguments; cli/ adds the keys
    with pytest.raises(WeightsNotFoundError, match="download failed"):
        InceptionFeatures(allow_download=True)  # the download is patched to fail


def test_missing_configured_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "alexnet.pth"
    with pytest.raises(WeightsNotFoundError, match=str(missing)):
        LPIPSNetwork(weights_path=missing)
    with pytest.raises(WeightsNotFoundError, match="alexnet-owt-7be5be79.pth"):
        LPIPSNetwork(allow_download=False)
    assert lpips_backbone_cache_path("alex").name == "alexnet-owt-7be5be79.pth"


def test_inception_loads_weights_from_the_torch_cache() -> None:
    """A state_dict at the cache path is used (here random weights of the right layout)."""
    with pytest.warns(UserWarning, match="meaningless"):
        reference = InceptionFeatures(random_weights=True, seed=3, feature_dim=64)
    path = inception_cache_path()
    path.parent.mkdir(parents=True)
    torch.save(reference.network.state_dict(), path)
    loaded = InceptionFeatures(allow_download=False, feature_dim=64)
    images = random_images(2, size=32)
    torch.testing.assert_close(loaded(images), reference(images))
    assert loaded(images).shape == (2, 64)
    assert path.name in loaded.extractor_id and "tf1" in loaded.extractor_id


def test_lpips_loads_backbone_weights_from_a_local_file(tmp_path: Path) -> None:
    import torchvision

    alexnet = torchvision.models.alexnet(weights=None)
    path = tmp_path / "alexnet.pth"
    torch.save(alexnet.state_dict(), path)
    network = LPIPSNetwork(weights_path=path)
    torch.testing.assert_close(network.lpips.net.slice1[0].weight, alexnet.features[0].weight)
    torch.testing.assert_close(
        getattr(network.lpips.net.slice5, "10").weight, alexnet.features[10].weight
    )
    # The learned linear layers come from torchmetrics' bundled file, not from random init.
    bundled = torch.load(
        Path(__import__("torchmetrics").__file__).parent / "functional/image/lpips_models/alex.pth",
        map_location="cpu",
        weights_only=True,
    )
    torch.testing.assert_close(network.lpips.lin0.model[-1].weight, bundled["lin0.model.1.weight"])


# --------------------------------------------------------------------------------- cache
def test_reference_cache_round_trip_and_key(tmp_path: Path) -> None:
    files = []
    for index in range(3):
        files.append(tmp_path / f"{index}.png")
        files[-1].write_bytes(b"x" * (index + 1))
    cache = ReferenceFeatureCache(tmp_path / "cache")
    key = cache.key(files, 64, "random-conv/8")
    assert cache.load(key) is None
    features = torch.arange(6.0).reshape(3, 2)
    cache.save(key, features)
    assert torch.equal(cache.load(key), features)
    assert cache.key(files, 64, "random-conv/16") != key  # another extractor
    assert cache.key(files, 128, "random-conv/8") != key  # another resize
    assert cache.key(files[:2], 64, "random-conv/8") != key  # another file list
    files[0].write_bytes(b"changed")
    assert cache.key(files, 64, "random-conv/8") != key  # a file changed
    assert ReferenceFeatureCache(None).load(key) is None
