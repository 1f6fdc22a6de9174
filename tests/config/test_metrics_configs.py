"""Every option of the metrics group builds an Evaluator (or none); eval.yaml composes."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from animegan.cli.train import build_callbacks
from animegan.evaluation import Evaluator, InceptionFeatures, LPIPSNetwork, RandomConvFeatures
from animegan.models import IResNet, WeightsNotFoundError
from animegan.training.eval_callback import EvaluationCallback

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
OPTIONS = sorted(path.stem for path in (CONF_DIR / "metrics").glob("*.yaml"))


def metrics_override(option: str) -> str:
    has_group = "- metrics:" in (CONF_DIR / "train.yaml").read_text()
    return f"{'' if has_group else '+'}metrics={option}"


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def test_metrics_options_exist() -> None:
    assert {"none", "default", "tiny"} <= set(OPTIONS)


@pytest.mark.parametrize("option", OPTIONS)
def test_metrics_option_builds_the_evaluation_callback(
    option: str, compose_train, tmp_path: Path
) -> None:
    overrides = [metrics_override(option), f"paths.cache_dir={tmp_path}"]
    if option in ("default", "faces"):  # no real weights here: same networks, random init
        overrides += [
            "metrics.fid_features.random_weights=true",
            "metrics.lpips.backbone=random",
        ]
    if option == "faces":
        overrides += ["metrics.identity_model.onnx_path=null"]
    cfg = compose_train(overrides, tmp_path)
    (callback,) = [c for c in build_callbacks(cfg.callbacks) if isinstance(c, EvaluationCallback)]
    if option == "none":
        assert cfg.metrics is None and callback.evaluator is None
        return
    evaluator = callback.evaluator
    assert isinstance(evaluator, Evaluator)
    assert evaluator.cache.cache_dir == tmp_path / "eval_stats"
    assert isinstance(evaluator.lpips, LPIPSNetwork)
    expected = InceptionFeatures if option in ("default", "faces") else RandomConvFeatures
    assert isinstance(evaluator.fid_features, expected)
    if option == "faces":
        assert isinstance(evaluator.identity_model, IResNet)
    if option == "default":
        assert evaluator.image_size == 256 and evaluator.fid_features.num_features == 2048


def test_default_metrics_without_weights_stop_with_the_file_to_fetch(
    compose_train, tmp_path: Path
) -> None:
    cfg = compose_train(
        [metrics_override("default"), "metrics.fid_features.allow_download=false"], tmp_path
    )
    with pytest.raises(Exception) as error:
        hydra.utils.instantiate(cfg.metrics, _convert_="all")
    cause = error.value
    while cause is not None and not isinstance(cause, WeightsNotFoundError):
        cause = cause.__cause__
    assert isinstance(cause, WeightsNotFoundError)
    assert "weights-inception-2015-12-05-6726825d.pth" in str(cause)
    assert str(tmp_path / "torch_home") in str(cause)


@pytest.mark.parametrize("option", OPTIONS)
def test_eval_config_composes_with_every_metrics_option(option: str, tmp_path: Path) -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="eval",
            overrides=[f"metrics={option}", "ckpt=x.ckpt", f"output_dir={tmp_path}"],
        )
    GlobalHydra.instance().clear()
    assert cfg.ckpt == "x.ckpt" and cfg.photo_dir is None and cfg.device == "auto"
    assert (cfg.metrics is None) == (option == "none")
