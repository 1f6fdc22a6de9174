"""Loss functions against hand-computed values, plus the gradient paths of a tiny G/D chain."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from animegan.losses import (
    ADVERSARIAL_KINDS,
    AdversarialKind,
    AnimeGANObjective,
    DiscriminatorLossWeights,
    GeneratorLossWeights,
    color_loss,
    content_loss,
    discriminator_adversarial_terms,
    generator_adversarial_loss,
    gram_matrix,
    rgb_to_gray,
    rgb_to_yuv,
    style_loss,
    total_variation_loss,
)

# Hand-written from TensorFlow's `tf.image.rgb_to_yuv` kernel (image_ops_impl.py), which the
# official colour loss calls on [0, 1] images (`rgb2yuv` in tools/ops.py of
# TachibanaYoshino/AnimeGANv2); rows Y, U, V; columns R, G, B; independent of the module.
YUV_COEFFS = [
    [0.299, 0.587, 0.114],
    [-0.14714119, -0.28886916, 0.43601035],
    [0.61497538, -0.51496512, -0.10001026],
]


def _image(*rows: list[list[float]]) -> torch.Tensor:
    """[1, C, H, W] from per-channel 2-D lists."""
    return torch.tensor([list(rows)], dtype=torch.float32)


def _solid(rgb01: tuple[float, float, float], h: int = 2, w: int = 2) -> torch.Tensor:
    """Solid RGB image given in [0, 1], returned in [-1, 1], shape [1, 3, h, w]."""
    values = torch.tensor(rgb01, dtype=torch.float32) * 2.0 - 1.0
    return values.view(1, 3, 1, 1).expand(1, 3, h, w).clone()


# ----------------------------------------------------------------------------- content / style


def test_gram_matrix_single_channel() -> None:
    features = _image([[1.0, 2.0], [3.0, 4.0]])  # [1, 1, 2, 2]
    # FᵀF = 1 + 4 + 9 + 16 = 30; C·H·W = 1·2·2 = 4 -> 7.5
    assert gram_matrix(features).shape == (1, 1, 1)
    assert gram_matrix(features).item() == pytest.approx(7.5)


def test_gram_matrix_two_channels() -> None:
    features = _image([[1.0, 2.0]], [[3.0, 4.0]])  # [1, 2, 1, 2]
    # c0·c0 = 1+4 = 5, c0·c1 = 3+8 = 11, c1·c1 = 9+16 = 25; divide by C·H·W = 2·1·2 = 4
    expected = torch.tensor([[[1.25, 2.75], [2.75, 6.25]]])
    torch.testing.assert_close(gram_matrix(features), expected)


def test_content_loss_hand_value() -> None:
    photo_features = _image([[1.0, 2.0], [3.0, 4.0]])
    fake_features = _image([[2.0, 2.0], [2.0, 2.0]])
    # |1-2| + |2-2| + |3-2| + |4-2| = 1 + 0 + 1 + 2 = 4, mean over 4 -> 1.0
    assert content_loss(photo_features, fake_features).item() == pytest.approx(1.0)


def test_style_loss_hand_value() -> None:
    anime_gray_features = _image([[1.0, 2.0], [3.0, 4.0]])  # gram 30/4 = 7.5
    fake_features = _image([[1.0, 1.0], [1.0, 1.0]])  # gram 4/4 = 1.0
    assert style_loss(anime_gray_features, fake_features).item() == pytest.approx(6.5)


def test_style_loss_allows_different_spatial_size() -> None:
    anime_gray_features = _image([[1.0, 2.0], [3.0, 4.0]])  # gram 7.5
    fake_features = _image([[3.0]])  # 1x1: gram 9/1 = 9
    assert style_loss(anime_gray_features, fake_features).item() == pytest.approx(1.5)


def test_content_and_style_zero_on_identical_inputs() -> None:
    features = torch.randn(2, 4, 3, 5)
    assert content_loss(features, features.clone()).item() == 0.0
    assert style_loss(features, features.clone()).item() == pytest.approx(0.0, abs=1e-7)


def test_style_loss_gradient_reaches_fake_features() -> None:
    anime_gray_features = _image([[1.0, 2.0], [3.0, 4.0]])
    fake_features = _image([[1.0, 1.0], [1.0, 1.0]]).requires_grad_(True)
    style_loss(anime_gray_features, fake_features).backward()
    assert fake_features.grad is not None
    # d/dF |gram(F) - 7.5| with gram(F) = ΣF²/4 < 7.5: -2F/4 = -0.5 for every element
    torch.testing.assert_close(fake_features.grad, torch.full_like(fake_features, -0.5))


def test_style_loss_compares_colour_fake_not_its_gray() -> None:
    # A colourful fake whose gray copy equals the anime_gray image: had style_loss grayed the
    # fake, the loss would be 0. It must see the colour features as given.
    features = nn.Conv2d(3, 2, kernel_size=1, bias=False)
    with torch.no_grad():
        features.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).view(2, 3, 1, 1))
    fake_anime = _solid((1.0, 0.0, 0.0))  # pure red
    anime_gray = rgb_to_gray(fake_anime)
    with torch.no_grad():
        loss = style_loss(features(anime_gray), features(fake_anime)).item()
        loss_if_grayed = style_loss(features(anime_gray), features(rgb_to_gray(fake_anime))).item()
    assert loss_if_grayed == pytest.approx(0.0, abs=1e-7)
    assert loss > 0.1


# ----------------------------------------------------------------------------- colour / gray


@pytest.mark.parametrize(
    ("rgb01", "expected_yuv"),
    [
        ((1.0, 0.0, 0.0), [row[0] for row in YUV_COEFFS]),
        ((0.0, 1.0, 0.0), [row[1] for row in YUV_COEFFS]),
        ((0.0, 0.0, 1.0), [row[2] for row in YUV_COEFFS]),
        ((1.0, 1.0, 1.0), [1.0, 0.0, 0.0]),  # Y weights sum to 1, U and V rows to 0
        ((0.0, 0.0, 0.0), [0.0, 0.0, 0.0]),
    ],
    ids=["red", "green", "blue", "white", "black"],
)
def test_rgb_to_yuv_primaries(rgb01: tuple[float, float, float], expected_yuv: list[float]) -> None:
    yuv = rgb_to_yuv(_solid(rgb01))
    assert yuv.shape == (1, 3, 2, 2)
    expected = torch.tensor(expected_yuv).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    torch.testing.assert_close(yuv, expected, atol=1e-6, rtol=0)


def test_rgb_to_gray_uses_rgb_order_weights() -> None:
    red = rgb_to_gray(_solid((1.0, 0.0, 0.0)))
    blue = rgb_to_gray(_solid((0.0, 0.0, 1.0)))
    # in [0, 1]: red -> 0.299 (BGR weights would give 0.114), blue -> 0.114
    assert red.shape == (1, 3, 2, 2)
    torch.testing.assert_close((red + 1) / 2, torch.full((1, 3, 2, 2), 0.299))
    torch.testing.assert_close((blue + 1) / 2, torch.full((1, 3, 2, 2), 0.114))


def test_rgb_to_gray_three_identical_channels() -> None:
    image = torch.rand(2, 3, 4, 5) * 2 - 1
    gray = rgb_to_gray(image)
    expected = 0.299 * image[:, 0] + 0.587 * image[:, 1] + 0.114 * image[:, 2]
    for channel in range(3):
        torch.testing.assert_close(gray[:, channel], expected)


def test_color_loss_zero_on_identical_images() -> None:
    image = torch.rand(2, 3, 4, 4) * 2 - 1
    assert color_loss(image, image.clone()).item() == pytest.approx(0.0, abs=1e-7)


def test_color_loss_black_vs_white_is_l1_on_y() -> None:
    # ΔY = 1 exactly, ΔU = ΔV = 0: L1 gives 1.0 (Huber on Y would give 0.5)
    loss = color_loss(_solid((0.0, 0.0, 0.0)), _solid((1.0, 1.0, 1.0)))
    assert loss.item() == pytest.approx(1.0, abs=1e-6)


def test_color_loss_red_vs_black_hand_value() -> None:
    # ΔY = .299 (L1), ΔU = -.14714119, ΔV = .61497538 (both |Δ| < 1: Huber = 0.5·Δ²)
    expected = 0.299 + 0.5 * 0.14714119**2 + 0.5 * 0.61497538**2
    loss = color_loss(_solid((1.0, 0.0, 0.0)), _solid((0.0, 0.0, 0.0)))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def _rgb_delta_for_yuv_delta(delta_yuv: list[float]) -> torch.Tensor:
    """RGB change (in [0, 1] units) producing the given YUV change, via the hand-written matrix."""
    matrix = torch.tensor(YUV_COEFFS, dtype=torch.float64)
    return torch.linalg.solve(matrix, torch.tensor(delta_yuv, dtype=torch.float64))


def test_color_loss_uses_huber_on_u() -> None:
    # ΔU = 2 with ΔY = ΔV = 0: Huber(δ=1) = 2 - 0.5 = 1.5 (an L1 on U would give 2.0).
    # Values leave [-1, 1]: the formula is linear, the range only matters for real images.
    delta01 = _rgb_delta_for_yuv_delta([0.0, 2.0, 0.0]).float()
    photo = torch.zeros(1, 3, 2, 2)
    fake_anime = photo + (2.0 * delta01).view(1, 3, 1, 1)  # [0,1] units -> [-1,1] units: ×2
    assert color_loss(photo, fake_anime).item() == pytest.approx(1.5, abs=1e-4)


def test_color_loss_uses_huber_on_v_and_l1_on_y() -> None:
    # ΔV = 0.5 only: Huber 0.5·0.25 = 0.125 (L1 would give 0.5)
    delta_v = _rgb_delta_for_yuv_delta([0.0, 0.0, 0.5]).float()
    photo = torch.zeros(1, 3, 2, 2)
    assert color_loss(photo, photo + (2.0 * delta_v).view(1, 3, 1, 1)).item() == pytest.approx(
        0.125, abs=1e-5
    )
    # ΔY = 2 only: L1 gives 2.0 (Huber would give 1.5)
    delta_y = _rgb_delta_for_yuv_delta([2.0, 0.0, 0.0]).float()
    assert color_loss(photo, photo + (2.0 * delta_y).view(1, 3, 1, 1)).item() == pytest.approx(
        2.0, abs=1e-4
    )


def test_color_loss_compares_channels_not_columns() -> None:
    # [1, 3, 1, 2]: pixel 0 black vs white, pixel 1 identical. ΔY = [1, 0] -> mean 0.5.
    # Channel-last indexing on NCHW ([..., 0]) would pick column 0 of each channel instead.
    photo = torch.tensor([[[[-1.0, 0.2]], [[-1.0, -0.4]], [[-1.0, 0.6]]]])
    fake_anime = torch.tensor([[[[1.0, 0.2]], [[1.0, -0.4]], [[1.0, 0.6]]]])
    assert color_loss(photo, fake_anime).item() == pytest.approx(0.5, abs=1e-6)


# ----------------------------------------------------------------------------- total variation


def test_total_variation_hand_value() -> None:
    image = _image([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]])  # [1, 1, 2, 3]
    # dh = row1 - row0 = [2, 1, -1] -> squares [4, 1, 1], mean 2
    # dw = [1, 2] and [0, 0] -> squares [1, 4, 0, 0], mean 1.25
    # 0.5·2 + 0.5·1.25 = 1.625 (official l2_loss/size; a raw sum/2 would give 3 + 2.5 = 5.5)
    assert total_variation_loss(image).item() == pytest.approx(1.625)


def test_total_variation_zero_on_constant_image() -> None:
    assert total_variation_loss(torch.full((2, 3, 4, 4), 0.3)).item() == 0.0


def test_total_variation_rejects_single_row() -> None:
    with pytest.raises(ValueError, match="H, W >= 2"):
        total_variation_loss(torch.zeros(1, 3, 1, 4))


# ----------------------------------------------------------------------------- adversarial

LOGITS_ANIME = torch.tensor([[[[0.5, -1.0]]]])
LOGITS_FAKE = torch.tensor([[[[1.0, -2.0]]]])
LOGITS_GRAY = torch.tensor([[[[0.0, 2.0]]]])
LOGITS_SMOOTH = torch.tensor([[[[-0.5, 3.0]]]])


def _d_terms(kind: AdversarialKind) -> dict[str, float]:
    terms = discriminator_adversarial_terms(
        kind, LOGITS_ANIME, LOGITS_FAKE, LOGITS_GRAY, LOGITS_SMOOTH
    )
    assert set(terms) == {"anime", "fake", "gray", "smooth"}
    return {name: value.item() for name, value in terms.items()}


def test_discriminator_lsgan_hand_values() -> None:
    terms = _d_terms("lsgan")
    assert terms["anime"] == pytest.approx((0.25 + 4.0) / 2)  # (0.5-1)², (-1-1)²
    assert terms["fake"] == pytest.approx((1.0 + 4.0) / 2)
    assert terms["gray"] == pytest.approx((0.0 + 4.0) / 2)
    assert terms["smooth"] == pytest.approx((0.25 + 9.0) / 2)


def test_discriminator_hinge_hand_values() -> None:
    terms = _d_terms("hinge")
    assert terms["anime"] == pytest.approx((0.5 + 2.0) / 2)  # relu(1-0.5), relu(1+1)
    assert terms["fake"] == pytest.approx((2.0 + 0.0) / 2)  # relu(1+1), relu(1-2)
    assert terms["gray"] == pytest.approx((1.0 + 3.0) / 2)
    assert terms["smooth"] == pytest.approx((0.5 + 4.0) / 2)


def test_discriminator_bce_hand_values() -> None:
    # logits 0 and ln 3 -> sigmoid 1/2 and 3/4. Target 1: -ln σ; target 0: -ln(1-σ).
    logits = torch.tensor([[[[0.0, math.log(3.0)]]]])
    terms = discriminator_adversarial_terms("bce", logits, logits, logits, logits)
    as_real = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
    as_fake = (math.log(2.0) + math.log(4.0)) / 2
    assert terms["anime"].item() == pytest.approx(as_real, rel=1e-6)
    for name in ("fake", "gray", "smooth"):
        assert terms[name].item() == pytest.approx(as_fake, rel=1e-6)


def test_generator_adversarial_hand_values() -> None:
    assert generator_adversarial_loss("lsgan", LOGITS_FAKE).item() == pytest.approx(
        (0.0 + 9.0) / 2  # (1-1)², (-2-1)²
    )
    assert generator_adversarial_loss("hinge", LOGITS_FAKE).item() == pytest.approx(0.5)
    logits = torch.tensor([[[[0.0, math.log(3.0)]]]])
    assert generator_adversarial_loss("bce", logits).item() == pytest.approx(
        (math.log(2.0) + math.log(4.0 / 3.0)) / 2, rel=1e-6
    )


def test_unknown_adversarial_kind_lists_allowed() -> None:
    assert ADVERSARIAL_KINDS == ("lsgan", "hinge", "bce")
    bad_kind: Any = "wgan"  # typed Any: a config typo reaches these at run time
    with pytest.raises(ValueError, match="lsgan, hinge, bce"):
        generator_adversarial_loss(bad_kind, LOGITS_FAKE)
    with pytest.raises(ValueError, match="'wgan'"):
        discriminator_adversarial_terms(
            bad_kind, LOGITS_ANIME, LOGITS_FAKE, LOGITS_GRAY, LOGITS_SMOOTH
        )
    with pytest.raises(ValueError, match="allowed"):
        AnimeGANObjective({}, {}, adversarial=bad_kind)


# ----------------------------------------------------------------------------- objective


def test_discriminator_total_weighting() -> None:
    objective = AnimeGANObjective(
        GeneratorLossWeights(),
        DiscriminatorLossWeights(scale=10.0, anime=1.0, fake=2.0, gray=3.0, smooth=4.0),
    )
    total, terms = objective.discriminator_loss(
        logits_anime=LOGITS_ANIME,
        logits_fake=LOGITS_FAKE,
        logits_anime_gray=LOGITS_GRAY,
        logits_anime_smooth_gray=LOGITS_SMOOTH,
    )
    assert list(terms) == ["d_anime", "d_fake", "d_gray", "d_smooth", "d_total"]
    # LSGAN terms 2.125, 2.5, 2.0, 4.625 -> 10·(1·2.125 + 2·2.5 + 3·2 + 4·4.625) = 316.25
    assert total.item() == pytest.approx(316.25)
    assert terms["d_total"] is total
    assert terms["d_smooth"].item() == pytest.approx(4.625)


def _generator_inputs() -> dict[str, torch.Tensor]:
    gray_pattern = [[1.0, -1.0], [-1.0, -1.0]]
    return {
        "photo": torch.full((1, 3, 2, 2), -1.0),  # black
        "fake_anime": _image(gray_pattern, gray_pattern, gray_pattern),  # one white pixel
        "photo_features": _image([[1.0, 2.0], [3.0, 4.0]]),
        "fake_features": _image([[2.0, 2.0], [2.0, 2.0]]),
        "anime_gray_features": _image([[1.0, 2.0], [3.0, 4.0]]),
        "logits_fake": LOGITS_FAKE,
    }


def test_generator_total_weighting_and_term_names() -> None:
    objective = AnimeGANObjective(
        GeneratorLossWeights(adversarial=2.0, content=3.0, style=5.0, color=7.0, tv=11.0),
        DiscriminatorLossWeights(),
    )
    total, terms = objective.generator_loss(**_generator_inputs())
    assert list(terms) == ["g_adv", "content", "style", "color", "tv", "pixel", "g_total"]
    expected_terms = {
        "pixel": 0.5,  # photo black, fake has one white pixel of 4: |1 - (-1)| / 4
        "g_adv": 4.5,  # LSGAN ((1-1)² + (-2-1)²)/2
        "content": 1.0,  # mean(|1-2|, 0, |3-2|, |4-2|)
        "style": 3.5,  # |7.5 - 16/4|
        "color": 0.25,  # ΔY = 1 at 1 of 4 pixels, gray so ΔU = ΔV = 0
        "tv": 2.0,  # per channel dh = [-2, 0], dw = [-2, 0]: 0.5·2 + 0.5·2
    }
    for name, value in expected_terms.items():
        assert terms[name].item() == pytest.approx(value, abs=1e-6), name
    # 2·4.5 + 3·1 + 5·3.5 + 7·0.25 + 11·2 = 9 + 3 + 17.5 + 1.75 + 22 = 53.25
    assert total.item() == pytest.approx(53.25, abs=1e-5)
    assert terms["g_total"] is total


def test_identity_and_pixel_terms_enter_the_total_with_their_weights() -> None:
    objective = AnimeGANObjective(
        GeneratorLossWeights(
            adversarial=2.0, content=3.0, style=5.0, color=7.0, tv=11.0, identity=13.0, pixel=17.0
        ),
        DiscriminatorLossWeights(),
    )
    total, terms = objective.generator_loss(**_generator_inputs(), identity=torch.tensor(0.25))
    assert terms["identity"].item() == pytest.approx(0.25)
    # 53.25 (the five official terms) + 17·0.5 (pixel) + 13·0.25 (identity)
    assert total.item() == pytest.approx(65.0, abs=1e-5)


def test_distill_terms_hand_values_and_weights() -> None:
    objective = AnimeGANObjective(
        GeneratorLossWeights(
            adversarial=2.0, content=3.0, style=5.0, color=7.0, tv=11.0,
            distill_pixel=19.0, distill_content=23.0,
        ),
        DiscriminatorLossWeights(),
    )  # fmt: skip
    inputs = _generator_inputs()
    # fake is gray [[1, -1], [-1, -1]]; the teacher's output is 0 everywhere:
    # mean |fake - teacher| = (1 + 1 + 1 + 1) · 3 / 12 = 1.
    teacher_anime = torch.zeros(1, 3, 2, 2)
    teacher_features = _image([[2.0, 4.0], [2.0, 0.0]])  # vs fake features 2: mean(0, 2, 0, 2) = 1
    teacher_features[0, 0, 0, 0] = 2.5  # -> mean(0.5, 2, 0, 2) = 1.125
    total, terms = objective.generator_loss(
        **inputs, teacher_anime=teacher_anime, teacher_features=teacher_features
    )
    assert list(terms)[-3:] == ["distill_pixel", "distill_content", "g_total"]
    assert terms["distill_pixel"].item() == pytest.approx(1.0)
    assert terms["distill_content"].item() == pytest.approx(1.125)
    # 53.25 (the five official terms) + 19·1 + 23·1.125 = 53.25 + 19 + 25.875
    assert total.item() == pytest.approx(98.125, abs=1e-5)
    # d/dfake of mean|fake - teacher| over 12 elements: sign(fake - teacher) / 12.
    fake = inputs["fake_anime"].clone().requires_grad_(True)
    pixel_only = AnimeGANObjective(
        GeneratorLossWeights(adversarial=0, content=0, style=0, color=0, tv=0, distill_pixel=1.0),
        {},
    )
    total, _ = pixel_only.generator_loss(
        **(inputs | {"fake_anime": fake}),
        teacher_anime=teacher_anime,
        teacher_features=teacher_features,
    )
    total.backward()
    torch.testing.assert_close(fake.grad, torch.sign(fake.detach()) / 12)


def test_distill_terms_need_a_teacher_output() -> None:
    plain = AnimeGANObjective({}, {})
    _, terms = plain.generator_loss(**_generator_inputs())
    assert "distill_pixel" not in terms and not plain.needs_teacher
    distill = AnimeGANObjective({"distill_content": 1.0}, {})
    assert distill.needs_teacher
    with pytest.raises(ValueError, match="module.teacher"):
        distill.generator_loss(**_generator_inputs())
    with pytest.raises(ValueError, match="together"):
        plain.generator_loss(**_generator_inputs(), teacher_anime=torch.zeros(1, 3, 2, 2))


def test_zero_weight_term_is_logged_but_left_out_of_total() -> None:
    objective = AnimeGANObjective(
        GeneratorLossWeights(adversarial=2.0, content=3.0, style=0.0, color=7.0, tv=11.0),
        DiscriminatorLossWeights(),
    )
    inputs = _generator_inputs()
    inputs["anime_gray_features"] = torch.full((1, 1, 2, 2), float("nan"))
    total, terms = objective.generator_loss(**inputs)
    assert math.isnan(terms["style"].item())
    assert total.item() == pytest.approx(53.25 - 17.5, abs=1e-5)


def test_init_loss_weight() -> None:
    photo_features = _image([[1.0, 2.0], [3.0, 4.0]])
    fake_features = _image([[2.0, 2.0], [2.0, 2.0]])  # content 1.0
    default = AnimeGANObjective(GeneratorLossWeights(content=1.5), DiscriminatorLossWeights())
    total, terms = default.init_loss(photo_features, fake_features)
    assert list(terms) == ["init_content"]
    assert terms["init_content"].item() == pytest.approx(1.0)
    assert total.item() == pytest.approx(1.5)
    custom = AnimeGANObjective(
        GeneratorLossWeights(content=1.5), DiscriminatorLossWeights(), init_content_weight=10.0
    )
    assert custom.init_loss(photo_features, fake_features)[0].item() == pytest.approx(10.0)


def test_init_pixel_term_is_added_only_when_weighted() -> None:
    photo_features = _image([[1.0, 2.0], [3.0, 4.0]])
    fake_features = _image([[2.0, 2.0], [2.0, 2.0]])  # content 1.0
    photo = torch.zeros(1, 3, 2, 2)
    fake_anime = torch.full((1, 3, 2, 2), 0.5)  # pixel L1 0.5
    objective = AnimeGANObjective(
        GeneratorLossWeights(content=1.5), DiscriminatorLossWeights(), init_pixel_weight=4.0
    )
    total, terms = objective.init_loss(
        photo_features, fake_features, photo=photo, fake_anime=fake_anime
    )
    assert list(terms) == ["init_content", "init_pixel"]
    assert terms["init_pixel"].item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(1.5 * 1.0 + 4.0 * 0.5)
    with pytest.raises(ValueError, match="needs photo and fake_anime"):
        objective.init_loss(photo_features, fake_features)
    with pytest.raises(ValueError, match="init_pixel_weight"):
        AnimeGANObjective(GeneratorLossWeights(), DiscriminatorLossWeights(), init_pixel_weight=-1)


def test_weights_from_mappings() -> None:
    objective = AnimeGANObjective(
        {"adversarial": 300, "content": 1.2, "style": 2.0, "color": 10.0, "tv": 1.0},
        {"anime": 1.7, "fake": 1.7, "gray": 1.7, "smooth": 1.0},
        adversarial="hinge",
    )
    assert objective.generator_weights == GeneratorLossWeights(
        adversarial=300.0, content=1.2, style=2.0, color=10.0, tv=1.0
    )
    assert objective.discriminator_weights == DiscriminatorLossWeights(
        scale=300.0, anime=1.7, fake=1.7, gray=1.7, smooth=1.0
    )
    assert objective.init_content_weight == 1.2
    assert objective.adversarial == "hinge"


def test_old_real_key_still_loads_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="'real' is deprecated; call it 'anime'"):
        objective = AnimeGANObjective({}, {"real": 1.2, "fake": 1.2, "gray": 1.2, "smooth": 0.8})
    assert objective.discriminator_weights.anime == 1.2
    with pytest.raises(TypeError, match="not both"):
        AnimeGANObjective({}, {"real": 1.0, "anime": 1.0})


def test_defaults_are_the_official_code() -> None:
    g, d = GeneratorLossWeights(), DiscriminatorLossWeights()
    assert (g.adversarial, g.content, g.style, g.color, g.tv) == (300, 1.5, 2.5, 10, 1)
    assert (d.scale, d.anime, d.fake, d.gray, d.smooth) == (300, 1.7, 1.7, 1.7, 1.0)


def test_unknown_weight_key_names_the_key() -> None:
    with pytest.raises(TypeError, match="'colour'"):
        AnimeGANObjective({"colour": 10.0}, {})
    with pytest.raises(TypeError, match="'blur'"):
        AnimeGANObjective({}, {"blur": 1.0})


def test_invalid_weight_values() -> None:
    with pytest.raises(ValueError, match="tv"):
        GeneratorLossWeights(tv=-1.0)
    with pytest.raises(TypeError, match="scale"):
        DiscriminatorLossWeights(scale="300")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- gradient paths


def _tiny_chain() -> tuple[nn.Module, nn.Module, nn.Module, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Conv2d(3, 3, kernel_size=3, padding=1), nn.Tanh())
    discriminator = nn.Conv2d(3, 1, kernel_size=3, padding=1)
    vgg = nn.Conv2d(3, 4, kernel_size=3, padding=1).requires_grad_(False)  # frozen stand-in
    photo = torch.rand(2, 3, 8, 8) * 2 - 1
    anime = torch.rand(2, 3, 8, 8) * 2 - 1
    batch = {
        "photo": photo,
        "anime": anime,
        "anime_gray": rgb_to_gray(anime),
        "anime_smooth_gray": rgb_to_gray(anime.flip(-1)),
    }
    return generator, discriminator, vgg, batch


def test_generator_total_reaches_generator_through_every_term() -> None:
    generator, discriminator, vgg, batch = _tiny_chain()
    discriminator.requires_grad_(False)
    objective = AnimeGANObjective(GeneratorLossWeights(), DiscriminatorLossWeights())
    fake_anime = generator(batch["photo"])
    with torch.no_grad():
        photo_features = vgg(batch["photo"])
        anime_gray_features = vgg(batch["anime_gray"])
    total, terms = objective.generator_loss(
        photo=batch["photo"],
        fake_anime=fake_anime,
        photo_features=photo_features,
        fake_features=vgg(fake_anime),
        anime_gray_features=anime_gray_features,
        logits_fake=discriminator(fake_anime),
    )
    for name in ("g_adv", "content", "style", "color", "tv"):
        grads = torch.autograd.grad(terms[name], list(generator.parameters()), retain_graph=True)
        assert any(g.abs().sum() > 0 for g in grads), f"{name} has no gradient path to G"
    total.backward()
    for param in generator.parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0
    assert all(param.grad is None for param in discriminator.parameters())


def test_discriminator_total_with_detached_fake_leaves_generator_untouched() -> None:
    generator, discriminator, _, batch = _tiny_chain()
    objective = AnimeGANObjective(GeneratorLossWeights(), DiscriminatorLossWeights())
    fake_anime = generator(batch["photo"]).detach()
    total, _ = objective.discriminator_loss(
        logits_anime=discriminator(batch["anime"]),
        logits_fake=discriminator(fake_anime),
        logits_anime_gray=discriminator(batch["anime_gray"]),
        logits_anime_smooth_gray=discriminator(batch["anime_smooth_gray"]),
    )
    total.backward()
    assert all(param.grad is None for param in generator.parameters())
    for param in discriminator.parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0
