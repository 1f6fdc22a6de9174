"""The official lite generator: layout, TF1 legacy upsampling, an independent reference of the
official graph, odd sizes, and loading/exporting by key layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from animegan.models import (
    Generator,
    GeneratorLite,
    count_parameters,
    detect_generator_class,
    export_state_dict,
    load_generator,
)
from animegan.models.generator_lite import upsample2x_tf_legacy


@pytest.fixture(scope="module")
def lite() -> GeneratorLite:
    torch.manual_seed(0)
    generator = GeneratorLite().eval()
    # Non-trivial affine parameters, so a wrongly wired norm cannot hide behind weight 1 bias 0.
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, nn.GroupNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
    return generator


def _photo(*size: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, *size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ------------------------------------------------------------------------------ layout

def test_parameter_count_and_keys(lite: GeneratorLite) -> None:
    state_dict = lite.state_dict()
    # 3 (stem) + 3 x 6 (down) + 4 x 7 (res) + 3 x 6 (up + fuse) + 1 (out) tensors;
    # parameters summed by hand in generator_lite's layer table.
    assert len(state_dict) == 68
    assert count_parameters(lite) == 698_240
    shapes = {
        "stem.1.weight": (32, 3, 7, 7),
        "stem.2.weight": (32,),
        "down_half.0.1.weight": (32, 32, 3, 3),
        "down_half.1.1.weight": (64, 32, 3, 3),
        "down_quarter.0.1.weight": (64, 64, 3, 3),
        "down_quarter.1.1.weight": (128, 64, 3, 3),
        "down_eighth.0.1.weight": (64, 128, 3, 3),
        "down_eighth.1.1.weight": (128, 64, 3, 3),
        "res_blocks.0.layers.0.1.weight": (32, 128, 1, 1),
        "res_blocks.3.layers.1.1.weight": (32, 32, 3, 3),
        "res_blocks.3.layers.2.weight": (128, 32, 1, 1),
        "up_quarter.1.weight": (128, 128, 3, 3),
        "fuse_quarter.1.weight": (64, 128, 3, 3),
        "up_half.1.weight": (64, 64, 3, 3),
        "fuse_half.1.weight": (32, 64, 3, 3),
        "up_full.1.weight": (32, 32, 3, 3),
        "fuse_full.1.weight": (32, 32, 7, 7),
        "out_layer.0.weight": (3, 32, 1, 1),
    }
    for key, shape in shapes.items():
        assert state_dict[key].shape == shape, key
    # The residual blocks' last 1x1 conv is linear: no norm after it.
    assert "res_blocks.0.layers.2.bias" not in state_dict
    assert "res_blocks.0.layers.3.weight" not in state_dict


def test_no_conv_has_a_bias_and_norms_match_the_full_generator(lite: GeneratorLite) -> None:
    convs = [m for m in lite.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 26 and all(conv.bias is None and conv.padding == (0, 0) for conv in convs)
    norms = [m for m in lite.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 21  # every CNL: 1 + 6 + 4 x 2 + 6
    assert all(n.num_groups == 1 and n.eps == 1e-5 and n.affine for n in norms)
    assert {m.negative_slope for m in lite.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    assert isinstance(lite.out_layer[1], nn.Tanh)


def test_reflection_pads_follow_the_official_conv2d(lite: GeneratorLite) -> None:
    # official Conv2D: k3 s1 -> 1 all round, k7 s1 -> 3, s2 -> 0 top/left, 1 bottom/right,
    # k1 -> nothing (a ReflectionPad2d of 0).
    for name, module in lite.named_modules():
        if not isinstance(module, nn.Sequential) or not isinstance(module[0], nn.ReflectionPad2d):
            continue
        conv = module[1]
        expected = {
            (3, 1): (1, 1, 1, 1),
            (7, 1): (3, 3, 3, 3),
            (3, 2): (0, 1, 0, 1),
            (1, 1): (0, 0, 0, 0),
        }[(conv.kernel_size[0], conv.stride[0])]
        assert tuple(module[0].padding) == expected, name


# ------------------------------------------------------------------------------ upsampling

def _tf_legacy_resize(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 ``resize_bilinear`` (align_corners=False, half_pixel_centers=False) in NumPy.

    ``in = d * (in_size / out_size)``, lower index floor(in), upper min(lower + 1, size - 1),
    top/bottom lerps as in TensorFlow's kernel. image: [H, W, C].
    """
    in_h, in_w = image.shape[:2]
    out = np.empty((out_h, out_w, image.shape[2]), dtype=np.float64)
    for y in range(out_h):
        fy = y * (in_h / out_h)
        y0, y1 = int(np.floor(fy)), min(int(np.floor(fy)) + 1, in_h - 1)
        for x in range(out_w):
            fx = x * (in_w / out_w)
            x0, x1 = int(np.floor(fx)), min(int(np.floor(fx)) + 1, in_w - 1)
            top = image[y0, x0] + (image[y0, x1] - image[y0, x0]) * (fx - x0)
            bottom = image[y1, x0] + (image[y1, x1] - image[y1, x0]) * (fx - x0)
            out[y, x] = top + (bottom - top) * (fy - y0)
    return out


def test_upsample_hand_computed() -> None:
    row = torch.tensor([0.0, 1.0, 4.0]).view(1, 1, 1, 3)
    # d / 2: 0, 0.5, 1, 1.5, 2, 2.5 -> 0, 0.5, 1, 2.5, 4, 4 (upper neighbour clamped).
    doubled = upsample2x_tf_legacy(row.expand(1, 1, 2, 3), (4, 6))
    assert doubled[0, 0, 0].tolist() == [0.0, 0.5, 1.0, 2.5, 4.0, 4.0]
    assert torch.equal(doubled[0, 0, 0], doubled[0, 0, 3])
    # Odd skip size: the last column repeats the clamped edge.
    assert upsample2x_tf_legacy(row, (2, 7))[0, 0, 0].tolist() == [0, 0.5, 1, 2.5, 4, 4, 4]


@pytest.mark.parametrize("size", [(3, 5), (4, 4), (1, 6)])
def test_upsample_matches_tensorflow_legacy_resize(size: tuple[int, int]) -> None:
    features = torch.randn(2, 4, *size, generator=torch.Generator().manual_seed(1))
    height, width = 2 * size[0], 2 * size[1]
    got = upsample2x_tf_legacy(features, (height, width)).double().numpy()
    for b in range(2):
        expected = _tf_legacy_resize(features[b].double().permute(1, 2, 0).numpy(), height, width)
        np.testing.assert_allclose(got[b].transpose(1, 2, 0), expected, atol=1e-6)
    # PyTorch's own bilinear modes are different mappings (why the helper exists).
    half_pixel = F.interpolate(features, size=(height, width), mode="bilinear")
    assert not torch.allclose(half_pixel.double(), torch.from_numpy(got), atol=1e-3)


# ------------------------------------------------------------------------------ forward

def _reference_official_graph(
    params: dict[str, torch.Tensor], photo: torch.Tensor
) -> torch.Tensor:
    """The official ``G_net`` of net/generator_lite.py, written from its text in NHWC.

    Parameters are looked up by our key names; everything else (pads chosen from kernel and
    stride as the official ``Conv2D`` does, layer norm over H, W, C, the resize formula of
    ``_tf_legacy_resize``, the skip additions) is written here independently of the module.
    """

    def conv(x: torch.Tensor, key: str, stride: int = 1) -> torch.Tensor:  # x: [B, H, W, C]
        weight = params[key]  # [out, in, k, k]
        k = weight.shape[-1]
        nchw = x.permute(0, 3, 1, 2)
        if k == 3 and stride == 1:
            nchw = F.pad(nchw, (1, 1, 1, 1), mode="reflect")
        if k == 7 and stride == 1:
            nchw = F.pad(nchw, (3, 3, 3, 3), mode="reflect")
        if stride == 2:
            nchw = F.pad(nchw, (0, 1, 0, 1), mode="reflect")
        return F.conv2d(nchw, weight, stride=stride).permute(0, 2, 3, 1)

    def cnl(x: torch.Tensor, prefix: str, stride: int = 1) -> torch.Tensor:
        y = conv(x, prefix + "1.weight", stride)
        mean = y.mean(dim=(1, 2, 3), keepdim=True)
        var = y.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
        y = (y - mean) / torch.sqrt(var + 1e-5) * params[prefix + "2.weight"] + params[
            prefix + "2.bias"
        ]
        return F.leaky_relu(y, 0.2)

    def unsample(x: torch.Tensor, prefix: str) -> torch.Tensor:
        batch, height, width, _ = x.shape
        resized = np.stack(
            [_tf_legacy_resize(x[b].double().numpy(), 2 * height, 2 * width) for b in range(batch)]
        )
        return cnl(torch.from_numpy(resized).float(), prefix)

    def res_block(x0: torch.Tensor, prefix: str) -> torch.Tensor:
        x = cnl(x0, prefix + "layers.0.")
        x = cnl(x, prefix + "layers.1.")
        return x0 + conv(x, prefix + "layers.2.weight")

    x = photo.permute(0, 2, 3, 1)
    x0 = cnl(x, "stem.")
    x1 = cnl(cnl(x0, "down_half.0.", 2), "down_half.1.")
    x2 = cnl(cnl(x1, "down_quarter.0.", 2), "down_quarter.1.")
    x3 = cnl(cnl(x2, "down_eighth.0.", 2), "down_eighth.1.")
    for i in range(4):
        x3 = res_block(x3, f"res_blocks.{i}.")
    x4 = cnl(unsample(x3, "up_quarter.") + x2, "fuse_quarter.")
    x5 = cnl(unsample(x4, "up_half.") + x1, "fuse_half.")
    x6 = cnl(unsample(x5, "up_full.") + x0, "fuse_full.")
    out = torch.tanh(conv(x6, "out_layer.0.weight"))
    return out.permute(0, 3, 1, 2)


@pytest.mark.parametrize("size", [(32, 32), (48, 80)])
def test_forward_matches_an_independent_reference_of_the_official_graph(
    lite: GeneratorLite, size: tuple[int, int]
) -> None:
    photo = _photo(*size, batch=2)
    params = {k: v.detach() for k, v in lite.state_dict().items()}
    with torch.no_grad():
        expected = _reference_official_graph(params, photo)
        got = lite(photo)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize("size", [(16, 16), (17, 23), (65, 47), (33, 96)])
def test_any_size_comes_back_at_its_size(lite: GeneratorLite, size: tuple[int, int]) -> None:
    with torch.no_grad():
        fake_anime = lite(_photo(*size, batch=2))
    assert fake_anime.shape == (2, 3, *size)
    assert torch.isfinite(fake_anime).all() and fake_anime.abs().max() <= 1.0


def test_below_the_minimum_side_fails_loudly(lite: GeneratorLite) -> None:
    assert GeneratorLite.min_side == 16 and GeneratorLite.tile_align == 8
    with pytest.raises(RuntimeError):
        lite(_photo(15, 32))


def test_gradients_reach_every_parameter(lite: GeneratorLite) -> None:
    generator = GeneratorLite()
    generator(_photo(32, 32)).square().mean().backward()
    missing = [n for n, p in generator.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


# ------------------------------------------------------------------------------ weights

def test_layout_detection_by_keys() -> None:
    assert detect_generator_class(list(GeneratorLite().state_dict())) is GeneratorLite
    assert detect_generator_class(list(Generator().state_dict())) is Generator
    assert detect_generator_class(["stem.1.weight", "res_blocks.0.layers.2.weight"]) is (
        GeneratorLite
    )
    assert detect_generator_class(["encoder.weight"]) is None


def test_plain_pt_and_checkpoint_load_as_lite(lite: GeneratorLite, tmp_path: Path) -> None:
    photo = _photo(40, 24)
    with torch.no_grad():
        expected = lite(photo)
    plain = export_state_dict(lite, tmp_path / "lite.pt")
    checkpoint = tmp_path / "lite.ckpt"
    torch.save(
        {
            "state_dict": {f"generator.{k}": v for k, v in lite.state_dict().items()}
            | {"discriminator.conv.weight": torch.zeros(1)},
            "animegan": {"phase": "gan"},
        },
        checkpoint,
    )
    for path in (plain, checkpoint):
        loaded = load_generator(path)
        assert type(loaded) is GeneratorLite and not loaded.training
        with torch.no_grad():
            assert torch.equal(loaded(photo), expected)


def test_a_lite_file_with_a_missing_tensor_names_the_lite_layout(
    lite: GeneratorLite, tmp_path: Path
) -> None:
    state = dict(lite.state_dict())
    del state["res_blocks.2.layers.2.weight"]
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match=r"GeneratorLite layout \(698,240 parameters"):
        load_generator(tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="Not a GeneratorLite layout"):
        bad = GeneratorLite()
        bad.extra = nn.Linear(1, 1)
        export_state_dict(bad, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


# ------------------------------------------------------------------------------ init

def test_official_init_by_default_pytorch_on_request() -> None:
    from animegan.models.init import TRUNCATED_NORMAL_STD_RATIO, tf_fan_in, tf_truncated_stddev

    torch.manual_seed(0)
    generator = GeneratorLite()
    for name in ("fuse_full.1", "up_quarter.1", "res_blocks.0.layers.2"):
        conv = generator.get_submodule(name)
        expected = tf_truncated_stddev(tf_fan_in(conv)) * TRUNCATED_NORMAL_STD_RATIO
        tolerance = 4.0 / (2 * conv.weight.numel()) ** 0.5
        assert conv.weight.std().item() == pytest.approx(expected, rel=tolerance), name
    torch.manual_seed(0)
    pytorch = GeneratorLite(init="pytorch")
    # kaiming_uniform(a=sqrt(5)) std = 1 / sqrt(3 fan_in); official sqrt(2.6 / fan_in) * 0.88.
    assert pytorch.fuse_full[1].weight.std() < 0.5 * generator.fuse_full[1].weight.std()
    with pytest.raises(ValueError, match="init must be"):
        GeneratorLite(init="xavier")  # type: ignore[arg-type]
