"""The one weight-file resolver (given path -> torch hub cache -> download -> clear error) and
the entry points' wording of its errors with config keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from animegan.cli.common import names_config_keys, with_config_keys
from animegan.models.weights import (
    WeightsNotFoundError,
    hub_checkpoint_path,
    resolve_weights_file,
)

URL = "https://example.invalid/models/thing-0123abcd.pth"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """torch hub cache in tmp_path; downloads are recorded and write a small file."""
    calls: list[dict[str, Any]] = []

    def fake_download(url: str, dst: str, **kwargs: Any) -> None:
        calls.append({"url": url, "dst": dst, **kwargs})
        torch.save({"w": torch.ones(1)}, dst)

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    return calls


def resolve(weights_path: Any = None, **options: Any) -> Path:
    return resolve_weights_file(weights_path, what="thing weights", owner="Thing", **options)


def test_a_given_file_wins_and_a_missing_one_has_no_fallback(tmp_path: Path, hub) -> None:
    given = tmp_path / "mine.pth"
    given.write_bytes(b"x")
    assert resolve(given, url=URL, allow_download=True) == given
    cached = hub_checkpoint_path("thing-0123abcd.pth")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    with pytest.raises(WeightsNotFoundError) as error:
        resolve(tmp_path / "gone.pth", url=URL, allow_download=True)
    message = str(error.value)
    assert str(tmp_path / "gone.pth") in message and "(weights_path)" in message
    assert URL in message and str(cached) in message and not hub
    assert (error.value.owner, error.value.argument) == ("Thing", "weights_path")


def test_cache_then_download_with_the_hash_of_the_file_name(hub) -> None:
    cached = hub_checkpoint_path("thing-0123abcd.pth")
    assert resolve(url=URL, allow_download=True, check_hash=True) == cached
    assert hub == [{"url": URL, "dst": str(cached), "hash_prefix": "0123abcd", "progress": False}]
    assert resolve(url=URL, allow_download=True) == cached and len(hub) == 1  # cached now


def test_no_download_allowed_or_possible_is_one_clear_error(hub) -> None:
    with pytest.raises(WeightsNotFoundError, match="downloads are off") as error:
        resolve(url=URL, hint="Or use a random one.")
    message = str(error.value)
    assert URL in message and str(hub_checkpoint_path("thing-0123abcd.pth")) in message
    assert message.endswith("Or use a random one.") and "\n" not in message
    npy = hub_checkpoint_path("big.npy")
    with pytest.raises(WeightsNotFoundError, match="never downloaded") as error:
        resolve(cache_path=npy, argument="npy_path")
    assert str(npy) in str(error.value) and "npy_path=<path>" in str(error.value)
    with pytest.raises(WeightsNotFoundError, match="no file given; pass weights_path=<file>"):
        resolve()
    assert not hub


def test_lpips_backbone_path_is_the_torchvision_file_in_the_hub_cache(hub) -> None:
    from animegan.evaluation import lpips_backbone_cache_path

    # export/quantize.py needs exactly this file to run LPIPS.
    assert lpips_backbone_cache_path("alex") == hub_checkpoint_path("alexnet-owt-7be5be79.pth")


CFG = OmegaConf.create(
    {
        "metrics": {
            "_target_": "animegan.evaluation.Evaluator",
            "fid_features": {
                "_target_": "animegan.evaluation.InceptionFeatures",
                "weights_path": None,
            },
        },
        "model": {"vgg": {"_target_": "animegan.models.VGG19Features", "weights_path": None}},
        "callbacks": {"evaluation": {"evaluator": "${metrics}"}},
    }
)


def test_entry_points_add_the_config_key_where_the_user_sets_it() -> None:
    error = WeightsNotFoundError(
        "FID weights not found.", owner="InceptionFeatures", argument="weights_path"
    )
    message = str(with_config_keys(error, CFG))
    assert message.startswith("FID weights not found. Set metrics.fid_features.weights_path=<file>")
    assert "callbacks" not in message  # the interpolation is not a second place to set it
    assert "metrics=tiny" in message and "metrics=none" in message
    vgg = WeightsNotFoundError("VGG missing.", owner="VGG19Features", argument="weights_path")
    assert "Set model.vgg.weights_path=<file>" in str(with_config_keys(vgg, CFG))
    assert "metrics=tiny" not in str(with_config_keys(vgg, CFG))
    unknown = WeightsNotFoundError("other", owner="Elsewhere", argument="weights_path")
    assert with_config_keys(unknown, CFG) is unknown

    @names_config_keys
    def job(cfg: Any) -> None:
        raise vgg

    with pytest.raises(WeightsNotFoundError, match="model.vgg.weights_path=<file>"):
        job(CFG)


def test_eval_cli_names_the_metrics_key_of_missing_inception_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from animegan.cli.eval import evaluate
    from animegan.models import Generator, export_state_dict

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    ckpt = tmp_path / "g.pt"
    export_state_dict(Generator(), ckpt)
    conf = Path(__file__).resolve().parents[3] / "conf"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(
            config_name="eval",
            overrides=[
                f"ckpt={ckpt}",
                f"photo_dir={tmp_path}",
                f"anime_dir={tmp_path}",
                f"output_dir={tmp_path / 'out'}",
                f"paths.cache_dir={tmp_path / 'cache'}",
                "metrics.fid_features.allow_download=false",
            ],
        )
    GlobalHydra.instance().clear()
    with pytest.raises(WeightsNotFoundError) as error:
        evaluate(cfg)
    message = str(error.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in message
    assert "Set metrics.fid_features.weights_path=<file>" in message and "metrics=tiny" in message
