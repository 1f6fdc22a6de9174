"""Identity loss: value for identical inputs, gradient path to the generator, face mask."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from animegan.faces.alignment import ARCFACE_TEMPLATE_112, arcface_crops
from animegan.losses import identity_loss
from animegan.models import iresnet18


@pytest.fixture(scope="module")
def arcface() -> nn.Module:
    torch.manual_seed(0)
    return iresnet18()


def _landmarks(batch: int, scale: float = 1.0, shift: float = 8.0) -> torch.Tensor:
    return (torch.from_numpy(ARCFACE_TEMPLATE_112) * scale + shift).expand(batch, 5, 2).clone()


def test_zero_value_and_zero_gradient_for_identical_inputs(arcface: nn.Module) -> None:
    photo = torch.rand(2, 3, 128, 128) * 2 - 1
    fake_anime = photo.clone().requires_grad_(True)
    loss = identity_loss(arcface, photo, fake_anime, _landmarks(2), torch.tensor([True, True]))
    assert abs(loss.item()) < 1e-5
    loss.backward()
    # 1 - cos has its minimum at identical embeddings: the gradient vanishes there.
    assert fake_anime.grad is not None and fake_anime.grad.abs().max() < 1e-4


def test_gradient_reaches_generator_and_only_through_fake(arcface: nn.Module) -> None:
    torch.manual_seed(1)
    generator = nn.Conv2d(3, 3, 3, padding=1)
    photo = torch.rand(2, 3, 128, 128) * 2 - 1
    fake_anime = torch.tanh(generator(photo))
    loss = identity_loss(arcface, photo, fake_anime, _landmarks(2), torch.tensor([True, True]))
    assert 0.0 < loss.item() <= 2.0
    loss.backward()
    assert generator.weight.grad is not None and generator.weight.grad.abs().sum() > 0
    assert not any(p.grad is not None for p in arcface.parameters())


def test_gradient_only_inside_the_face_crop(arcface: nn.Module) -> None:
    photo = torch.rand(1, 3, 200, 200) * 2 - 1
    fake_anime = (torch.rand(1, 3, 200, 200) * 2 - 1).requires_grad_(True)
    # Face crop covers x, y in about [8, 120]: pixels far outside it get no gradient.
    identity_loss(arcface, photo, fake_anime, _landmarks(1), torch.tensor([True])).backward()
    grad = fake_anime.grad[0].abs().sum(0)
    assert grad[20:100, 20:100].sum() > 0
    assert grad[150:, :].sum() == 0 and grad[:, 150:].sum() == 0


def test_faceless_images_contribute_nothing(arcface: nn.Module) -> None:
    torch.manual_seed(2)
    photo = torch.rand(3, 3, 128, 128) * 2 - 1
    fake_anime = torch.rand(3, 3, 128, 128) * 2 - 1
    landmarks = _landmarks(3)
    landmarks[1] = 0.0  # placeholder for a face-less image: must not produce NaN
    with_face = torch.tensor([True, False, True])
    mixed = identity_loss(arcface, photo, fake_anime, landmarks, with_face)
    only_faces = identity_loss(
        arcface, photo[[0, 2]], fake_anime[[0, 2]], landmarks[[0, 2]], torch.tensor([True, True])
    )
    torch.testing.assert_close(mixed, only_faces)
    fake = fake_anime.clone().requires_grad_(True)
    none = identity_loss(arcface, photo, fake, landmarks, torch.zeros(3, dtype=torch.bool))
    assert none.item() == 0.0
    none.backward()
    assert fake.grad is not None and fake.grad.abs().sum() == 0


def test_the_loss_and_the_metric_share_one_cosine(arcface: nn.Module) -> None:
    from animegan.evaluation.identity import identity_similarity

    torch.manual_seed(3)
    photo = torch.rand(3, 3, 128, 128) * 2 - 1
    fake_anime = (photo + 0.3 * torch.randn_like(photo)).clamp(-1, 1)
    landmarks = _landmarks(3)
    has_face = torch.tensor([True, True, False])

    def landmark_crop(photo: torch.Tensor, fake: torch.Tensor):
        crops = arcface_crops(torch.cat([photo, fake]), torch.cat([landmarks, landmarks]))
        return *crops.chunk(2), has_face

    cosines = identity_similarity(arcface, photo, fake_anime, landmark_crop)
    assert torch.isnan(cosines[2]) and 0 < cosines[0] < 1 and 0 < cosines[1] < 1
    loss = identity_loss(arcface, photo, fake_anime, landmarks, has_face)
    torch.testing.assert_close(loss, 1 - cosines[:2].mean())


def test_identity_statistics_summarise_the_cosines() -> None:
    from animegan.evaluation.identity import summarize_cosines

    summary = summarize_cosines(torch.tensor([0.2, 0.4, 0.6, 0.8]), threshold=0.5)
    assert summary.mean == pytest.approx(0.5) and summary.share_below == 0.5
    assert summary.quantiles["median"] == pytest.approx(0.5) and summary.count == 4
    empty = summarize_cosines(torch.zeros(0))
    assert empty.count == 0 and empty.share_below == 0.0 and torch.isnan(torch.tensor(empty.mean))
