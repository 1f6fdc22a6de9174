"""VGG19Features: torchvision layout, input normalisation, freezing and weight resolution.

No test touches the network: the hub directory and the download function are monkeypatched.
"""

from __future__ import annotations

import logging
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from torch import nn

from animegan.models import VGG19Features, WeightsNotFoundError, vgg19_cache_path
from animegan.models import vgg as vgg_module

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)


def _random_vgg() -> VGG19Features:
    with pytest.warns(UserWarning, match="random"):
        return VGG19Features(weights="random")


@pytest.fixture(scope="module")
def random_vgg() -> VGG19Features:
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        return VGG19Features(weights="random")


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the torch hub cache at tmp_path and make every download fail."""

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path


def test_layers_stop_at_conv4_4_before_relu(random_vgg: VGG19Features) -> None:
    features = random_vgg.features
    assert len(features) == 26
    last = features[25]
    assert isinstance(last, nn.Conv2d) and (last.in_channels, last.out_channels) == (512, 512)
    assert sum(isinstance(m, nn.Conv2d) for m in features) == 12  # conv1_1 .. conv4_4
    assert sum(isinstance(m, nn.MaxPool2d) for m in features) == 3
    assert not any(isinstance(m, nn.Linear) for m in random_vgg.modules())


def test_keys_and_shapes_match_torchvision(random_vgg: VGG19Features) -> None:
    with torch.device("meta"):
        reference = torchvision.models.vgg19().state_dict()
    ours = random_vgg.state_dict()
    assert len(ours) == 24
    for key, value in ours.items():
        assert reference[key].shape == value.shape, key


def test_url_and_file_name_match_torchvision() -> None:
    assert vgg_module.VGG19_URL == torchvision.models.VGG19_Weights.IMAGENET1K_V1.url
    assert vgg_module.VGG19_URL.endswith("/" + vgg_module.VGG19_FILENAME)


@pytest.mark.parametrize(("size", "expected"), [((64, 64), (8, 8)), ((65, 47), (8, 5))])
def test_output_shape(
    random_vgg: VGG19Features, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    with torch.no_grad():
        out = random_vgg(torch.rand(2, 3, *size) * 2 - 1)
    assert out.shape == (2, 512, *expected)


def test_output_is_before_relu(random_vgg: VGG19Features) -> None:
    with torch.no_grad():
        out = random_vgg(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert (out < 0).any()


def test_input_maps_minus_one_one_to_imagenet_normalised(random_vgg: VGG19Features) -> None:
    # A pixel equal to the ImageNet mean in [0, 1] is 2 * mean - 1 in [-1, 1]: it must reach
    # conv1_1 as exactly 0.
    image = (2 * IMAGENET_MEAN - 1).expand(1, 3, 16, 16)
    with torch.no_grad():
        got = random_vgg(image)
        expected = random_vgg.features(torch.zeros(1, 3, 16, 16))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # White (1.0 in [-1, 1]) is (1 - mean) / std after normalisation.
    white = torch.ones(1, 3, 1, 1) * random_vgg.input_scale + random_vgg.input_shift
    expected_white = (1 - IMAGENET_MEAN) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(white, expected_white)


def test_frozen_and_stays_in_eval(random_vgg: VGG19Features) -> None:
    assert all(not p.requires_grad for p in random_vgg.parameters())
    returned = random_vgg.train()
    assert returned is random_vgg
    assert not any(m.training for m in random_vgg.modules())
    parent = nn.ModuleDict({"vgg": random_vgg}).train()
    assert not random_vgg.training and parent.training


def test_gradient_flows_to_input_not_weights(random_vgg: VGG19Features) -> None:
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    random_vgg(image).abs().mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in random_vgg.parameters())


def test_random_weights_warn_and_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="animegan.models.vgg"):
        _random_vgg()
    assert any("smoke tests" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("layout", ["full_model", "features_only"])
def test_weights_path_loads_identical_features(
    random_vgg: VGG19Features, tmp_path: Path, layout: str
) -> None:
    features = random_vgg.features.state_dict()
    if layout == "full_model":
        state_dict = {f"features.{k}": v for k, v in features.items()}
        state_dict["features.28.weight"] = torch.zeros(512, 512, 3, 3)  # conv5_1: ignored
        state_dict["classifier.0.weight"] = torch.zeros(8, 4)
    else:
        state_dict = dict(features)
    path = tmp_path / "vgg19.pth"
    torch.save(state_dict, path)

    loaded = VGG19Features(weights="imagenet", weights_path=path)
    image = torch.rand(1, 3, 24, 24) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(image), random_vgg(image))
    assert not loaded.training and all(not p.requires_grad for p in loaded.parameters())


def test_weights_path_missing(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="vgg19-dcbb9e9d.pth"):
        VGG19Features(weights_path=tmp_path / "nope.pth")


def test_weights_path_without_vgg_keys(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"block_a.0.1.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="features.0.weight"):
        VGG19Features(weights_path=path)


def test_cache_path_follows_hub_dir(offline_hub: Path) -> None:
    assert vgg19_cache_path() == offline_hub / "checkpoints" / "vgg19-dcbb9e9d.pth"


def test_offline_without_cache_raises_helpful_error(offline_hub: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        VGG19Features()
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "vgg19-dcbb9e9d.pth" in message
    assert str(offline_hub / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message
    assert "weights_path=<path>" in message and "weights='random'" in message
    assert "model.vgg" not in message  # library code names its arguments; cli/ adds the keys


def test_cached_file_is_used_without_download(random_vgg: VGG19Features, offline_hub: Path) -> None:
    cache = offline_hub / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cache.parent.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in random_vgg.features.state_dict().items()}, cache)

    loaded = VGG19Features()
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(image), random_vgg(image))


def test_download_is_safe_and_hash_checked(
    random_vgg: VGG19Features, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_download(url: str, dst: str, **kwargs: Any) -> None:
        calls.append({"url": url, "dst": dst, **kwargs})
        torch.save({f"features.{k}": v for k, v in random_vgg.features.state_dict().items()}, dst)

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    loaded = VGG19Features()
    assert len(calls) == 1
    assert calls[0]["url"] == "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    assert calls[0]["hash_prefix"] == "dcbb9e9d"  # torch checks the SHA-256 prefix of the file
    assert calls[0]["dst"] == str(tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth")
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    assert torch.equal(loaded(image), random_vgg(image))
    VGG19Features()  # now cached: no second download
    assert len(calls) == 1


def test_unknown_weights_name() -> None:
    with pytest.raises(ValueError, match="imagenet.*caffe"):
        VGG19Features(weights="vggface")  # type: ignore[arg-type]
