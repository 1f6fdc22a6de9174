"""What the loss terms are fed: batched D logits, features with and without gradient, teacher."""

from __future__ import annotations

import torch
from torch import nn

from animegan.losses import AnimeGANObjective
from animegan.training.distillation import freeze_teacher, teacher_targets
from animegan.training.loss_inputs import (
    content_features,
    discriminator_logits,
    generator_loss_inputs,
)


def _images(batch: int = 2, size: int = 16) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    names = ("photo", "anime", "anime_gray", "anime_smooth_gray")
    return {name: torch.rand(batch, 3, size, size, generator=generator) * 2 - 1 for name in names}


def _features() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()).requires_grad_(False).eval()


def test_one_batched_discriminator_call_equals_four_calls() -> None:
    # GroupNorm normalises per sample, so concatenating the four inputs changes nothing.
    discriminator = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GroupNorm(1, 4), nn.Conv2d(4, 1, 1))
    images = _images()
    fake_anime = torch.rand(2, 3, 16, 16) * 2 - 1
    logits = discriminator_logits(discriminator, images, fake_anime)
    inputs = {
        "logits_anime": images["anime"],
        "logits_fake": fake_anime,
        "logits_anime_gray": images["anime_gray"],
        "logits_anime_smooth_gray": images["anime_smooth_gray"],
    }
    assert list(logits) == list(inputs)
    for name, image in inputs.items():
        torch.testing.assert_close(logits[name], discriminator(image), rtol=1e-5, atol=1e-6)
    total, terms = AnimeGANObjective({}, {}).discriminator_loss(**logits)
    assert torch.isfinite(total) and "d_anime" in terms


def test_photo_features_carry_no_gradient_and_fake_features_reach_the_generator() -> None:
    generator = nn.Conv2d(3, 3, 3, padding=1)
    photo = _images()["photo"]
    # Not frozen: the photo's features must carry no graph even through trainable weights.
    extractor = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    features = content_features(extractor, photo, generator(photo))
    assert not features["photo_features"].requires_grad
    features["fake_features"].sum().backward()
    assert generator.weight.grad is not None and generator.weight.grad.abs().sum() > 0
    total, terms = AnimeGANObjective({}, {}).init_loss(**features)
    assert set(terms) == {"init_content"} and total.requires_grad


def test_freeze_teacher_freezes_in_place_and_passes_none_through() -> None:
    teacher = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Dropout()).train()
    assert freeze_teacher(teacher) is teacher
    assert not teacher.training and all(not p.requires_grad for p in teacher.parameters())
    assert freeze_teacher(None) is None


def test_teacher_targets_are_the_teachers_output_without_gradient() -> None:
    teacher = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh())  # not frozen: no_grad still
    photo, features = _images()["photo"], _features()
    targets = teacher_targets(teacher, features, photo)
    torch.testing.assert_close(targets["teacher_anime"], teacher(photo).detach())
    torch.testing.assert_close(targets["teacher_features"], features(teacher(photo)).detach())
    assert not any(target.requires_grad for target in targets.values())
    assert teacher_targets(None, features, photo) == {
        "teacher_anime": None,
        "teacher_features": None,
    }


def test_generator_loss_inputs_feed_every_generator_term() -> None:
    generator = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh())
    images = _images()
    fake_anime = generator(images["photo"])
    features = _features()
    logits_fake = torch.zeros(2, 1, 4, 4)
    teacher = freeze_teacher(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh()))
    weights = {"distill_pixel": 1.0, "distill_content": 1.0}

    plain = generator_loss_inputs(images, fake_anime, features)
    assert plain["teacher_anime"] is None and plain["identity"] is None
    _, terms = AnimeGANObjective({}, {}).generator_loss(**plain, logits_fake=logits_fake)
    assert {"g_adv", "content", "style", "color", "tv", "pixel", "g_total"} == set(terms)

    distilled = generator_loss_inputs(images, fake_anime, features, teacher=teacher)
    assert not distilled["photo_features"].requires_grad
    assert not distilled["anime_gray_features"].requires_grad
    assert distilled["fake_features"].requires_grad
    total, terms = AnimeGANObjective(weights, {}).generator_loss(
        **distilled, logits_fake=logits_fake
    )
    assert terms["distill_pixel"] > 0 and terms["distill_content"] > 0
    total.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert generator[0].weight.grad is not None
