"""Metric objects: reset/update/sync/compute, order-independence, and adding a metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from animegan.evaluation import (
    Evaluator,
    FIDMetric,
    IdentityMetric,
    LPIPSMetric,
    LPIPSNetwork,
    Metric,
    MetricValues,
    RandomConvFeatures,
    diversity_lpips,
    frechet_distance,
    kernel_inception_distance,
)
from animegan.evaluation.distributed import RowState


def images(count: int, size: int = 16, seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    # 8-bit values, as the evaluator hands stylized images to metrics
    return torch.randint(0, 256, (count, 3, size, size), generator=generator).float() / 127.5 - 1


def test_row_state_orders_rows_by_photo_index() -> None:
    rows = RowState((2,))
    rows.append(torch.tensor([3, 1]), torch.tensor([[3.0, 3.0], [1.0, 1.0]]))
    rows.append(torch.tensor([0, 2]), torch.tensor([[0.0, 0.0], [2.0, 2.0]]))
    assert torch.equal(rows.gather("cpu")[:, 0], torch.tensor([0.0, 1.0, 2.0, 3.0]))
    rows.reset()
    assert rows.gather("cpu").shape == (0, 2)


def test_fid_metric_equals_the_formulas_whatever_the_batch_order() -> None:
    features = RandomConvFeatures(num_features=8, input_size=16)
    photo, stylized, reference = images(6, seed=1), images(6, seed=2), images(5, seed=3)
    metric = FIDMetric(features, kid_subsets=4, seed=0)
    metric.update(photo[3:], stylized[3:], torch.arange(3, 6))  # later photos first
    metric.update(photo[:3], stylized[:3], torch.arange(0, 3))
    metric.sync(torch.device("cpu"))
    with pytest.raises(RuntimeError, match="set_reference"):
        metric.compute()
    real = features(reference)
    metric.set_reference(real, cache_hit=True)
    values = metric.compute()
    fake = features(stylized)
    kid_mean, kid_std, size = kernel_inception_distance(real, fake, subsets=4, seed=0)
    assert values.metrics == {
        "fid": frechet_distance(real, fake),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
    }
    assert values.info == {"num_reference": 5, "reference_cache_hit": True, "kid_subset_size": size}
    metric.reset()
    metric.sync(torch.device("cpu"))
    with pytest.raises(RuntimeError):  # reset forgot the reference too
        metric.compute()


def test_lpips_metric_per_image_and_diversity_of_the_first_images() -> None:
    network = LPIPSNetwork(backbone="random")
    photo, stylized = images(5, size=32, seed=4), images(5, size=32, seed=5)
    metric = LPIPSMetric(network, image_size=32, diversity_images=3, batch_size=2)
    metric.update(photo[2:], stylized[2:], torch.arange(2, 5))
    metric.update(photo[:2], stylized[:2], torch.arange(0, 2))
    metric.sync(torch.device("cpu"))
    values = metric.compute()
    expected = network(photo, stylized)  # one batch of 5: equal up to float summation order
    assert values.per_image["lpips_content"] == pytest.approx(expected.tolist(), rel=1e-5)
    assert values.metrics["lpips_content"] == pytest.approx(float(expected.mean()), rel=1e-5)
    assert values.metrics["lpips_diversity"] == pytest.approx(
        diversity_lpips(network, stylized[:3], 2), rel=1e-5
    )
    assert values.info == {"diversity_images": 3}


def test_identity_metric_leaves_faceless_images_out_of_the_summary() -> None:
    def flatten(crops: Tensor) -> Tensor:
        return crops.flatten(1)

    def face_on_first_two(photo: Tensor, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return photo, fake, torch.arange(photo.shape[0]) < 2

    metric = IdentityMetric(flatten, face_crop=face_on_first_two, threshold=0.5)
    photo = images(3, seed=6)
    metric.update(photo, torch.cat([photo[:1], -photo[1:]]), torch.arange(3))
    metric.sync(torch.device("cpu"))
    values = metric.compute()
    first, second, third = values.per_image["identity"]
    assert first == pytest.approx(1.0) and second == pytest.approx(-1.0) and np.isnan(third)
    assert values.metrics["identity"] == pytest.approx(0.0, abs=1e-6)
    assert values.metrics["identity_share_below"] == 0.5
    assert values.info == {"identity_faces": 2, "identity_threshold": 0.5}


class MeanAbsoluteChange(Metric):
    """A metric written for this test: mean |stylized - photo| per image (one file's worth)."""

    def reset(self) -> None:
        self.rows = RowState(())
        self.values = torch.zeros(0)

    def update(self, photo: Tensor, stylized: Tensor, index: Tensor) -> None:
        self.rows.append(index, (stylized - photo).abs().mean(dim=(1, 2, 3)))

    def sync(self, device: torch.device) -> None:
        self.values = self.rows.gather(device)

    def compute(self) -> MetricValues:
        return MetricValues(
            metrics={"mean_abs_change": float(self.values.mean())},
            per_image={"abs_change": self.values.tolist()},
            info={"abs_change_images": int(self.values.numel())},
        )


def test_an_extra_metric_is_updated_reset_and_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    photos = []
    for index in range(4):
        photos.append(tmp_path / f"{index}.png")
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(photos[-1])
    evaluator = Evaluator(image_size=16, batch_size=3, extra_metrics=[MeanAbsoluteChange()])
    first = evaluator.evaluate(nn.Identity(), photos)
    assert first.metrics == {"mean_abs_change": 0.0}
    assert [row["abs_change"] for row in first.per_image] == [0.0] * 4
    second = evaluator.evaluate(nn.Tanh(), photos)  # Tanh lowers the contrast: a change
    assert second.metrics["mean_abs_change"] > 0
    assert second.info["abs_change_images"] == 4  # reset between evaluations
    assert all(row["abs_change"] > 0 for row in second.per_image)
