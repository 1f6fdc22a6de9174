"""Generator layout (animegan2-pytorch keys), shapes, residual wiring and weight loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from animegan.models import (
    Generator,
    WeightsNotFoundError,
    count_parameters,
    export_state_dict,
    load_generator,
)
from animegan.models.generator import ConvNormLReLU, InvertedResBlock


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator().eval()


def _photo(*size: int, batch: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, *size) * 2 - 1


def test_state_dict_matches_port_layout(generator: Generator) -> None:
    state_dict = generator.state_dict()
    assert len(state_dict) == 77
    assert count_parameters(generator) == 2_143_552
    assert state_dict["block_a.0.1.weight"].shape == (32, 3, 7, 7)
    assert state_dict["block_a.0.2.weight"].shape == (32,)
    assert state_dict["block_c.1.layers.0.1.weight"].shape == (256, 128, 1, 1)
    assert state_dict["block_c.1.layers.1.1.weight"].shape == (256, 1, 3, 3)
    assert state_dict["block_c.1.layers.1.1.bias"].shape == (256,)
    assert state_dict["block_c.4.layers.2.weight"].shape == (256, 512, 1, 1)
    assert state_dict["block_e.2.1.weight"].shape == (32, 64, 7, 7)
    assert state_dict["out_layer.0.weight"].shape == (3, 32, 1, 1)


def test_only_depthwise_convs_have_bias(generator: Generator) -> None:
    convs_with_bias = [
        name
        for name, m in generator.named_modules()
        if isinstance(m, nn.Conv2d) and m.bias is not None
    ]
    assert convs_with_bias == [f"block_c.{i}.layers.1.1" for i in (1, 2, 3, 4)]
    for name in convs_with_bias:
        conv = generator.get_submodule(name)
        assert conv.groups == conv.in_channels == conv.out_channels


def test_norm_and_activation_settings(generator: Generator) -> None:
    norms = [m for m in generator.modules() if isinstance(m, nn.GroupNorm)]
    assert norms and all(n.num_groups == 1 and n.eps == 1e-5 and n.affine for n in norms)
    slopes = {m.negative_slope for m in generator.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}
    assert isinstance(generator.out_layer[1], nn.Tanh)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("size", [(64, 64), (65, 47), (33, 96)])
def test_output_keeps_input_size_and_range(
    generator: Generator, size: tuple[int, int], batch: int
) -> None:
    with torch.no_grad():
        fake_anime = generator(_photo(*size, batch=batch))
    assert fake_anime.shape == (batch, 3, *size)
    assert fake_anime.abs().max() <= 1.0
    assert torch.isfinite(fake_anime).all()


def test_block_a_halves_odd_sizes_with_floor(generator: Generator) -> None:
    # k7 pad 3 keeps 65x47; the stride-2 conv pads (0, 1): floor((65 + 1 - 3) / 2) + 1 = 32,
    # floor((47 + 1 - 3) / 2) + 1 = 23; block_b halves again to 16x11.
    with torch.no_grad():
        half = generator.block_a(_photo(65, 47))
        quarter = generator.block_b(half)
    assert half.shape == (1, 64, 32, 23)
    assert quarter.shape == (1, 128, 16, 11)


def test_stride2_conv_pads_bottom_right_only() -> None:
    layer = ConvNormLReLU(1, 1, stride=2, padding=(0, 1, 0, 1))
    with torch.no_grad():
        layer[1].weight.zero_()
        layer[1].weight[0, 0, 0, 0] = 1.0  # pick the top-left tap of each 3x3 window
    image = torch.arange(16.0).view(1, 1, 4, 4)
    # Without top/left padding, window (i, j) starts at pixel (2i, 2j).
    expected = torch.tensor([[[[0.0, 2.0], [8.0, 10.0]]]])
    with torch.no_grad():
        assert torch.equal(layer[1](layer[0](image)), expected)


def test_inverted_residual_adds_input_only_when_shapes_match() -> None:
    torch.manual_seed(0)
    same = InvertedResBlock(8, 8)
    wider = InvertedResBlock(8, 16)
    assert same.use_residual and not wider.use_residual
    for block in (same, wider):
        with torch.no_grad():  # the final norm then outputs exactly zero
            block.layers[3].weight.zero_()
            block.layers[3].bias.zero_()
    features = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        assert torch.equal(same(features), features)
        assert torch.equal(wider(features), torch.zeros(2, 16, 5, 5))


def test_inverted_residual_layout() -> None:
    block = InvertedResBlock(128, 256)
    assert [type(m) for m in block.layers] == [
        ConvNormLReLU,
        ConvNormLReLU,
        nn.Conv2d,
        nn.GroupNorm,
    ]
    assert block.layers[0][1].kernel_size == (1, 1) and block.layers[0][1].out_channels == 256
    assert block.layers[1][1].groups == 256
    assert block.layers[2].out_channels == 256 and block.layers[2].bias is None


def _perturbed_generator() -> Generator:
    torch.manual_seed(1)
    generator = Generator()
    with torch.no_grad():  # move norms off their (1, 0) init so a wrong load is visible
        for parameter in generator.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return generator.eval()


def test_export_and_load_plain_state_dict(tmp_path: Path) -> None:
    source = _perturbed_generator()
    path = export_state_dict(source, tmp_path / "out" / "generator.pt")
    raw = torch.load(path, weights_only=True)
    assert list(raw) == list(Generator().state_dict())

    loaded = load_generator(path)
    assert not loaded.training
    photo = _photo(40, 36)
    with torch.no_grad():
        assert torch.equal(loaded(photo), source(photo))


@pytest.mark.parametrize("wrapper", ["", "_orig_mod.", "module."])
def test_load_lightning_checkpoint(tmp_path: Path, wrapper: str) -> None:
    source = _perturbed_generator()
    state_dict = {f"generator.{wrapper}{k}": v for k, v in source.state_dict().items()}
    state_dict["discriminator.layers.0.parametrizations.weight.original"] = torch.zeros(32, 3, 3, 3)
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": state_dict, "epoch": 0, "global_step": 3}, path)

    loaded = load_generator(path)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_load_checkpoint_with_other_prefix(tmp_path: Path) -> None:
    source = _perturbed_generator()
    other = Generator()
    state_dict = {f"generator.{k}": v for k, v in other.state_dict().items()}
    state_dict |= {f"generator_ema.{k}": v for k, v in source.state_dict().items()}
    path = tmp_path / "ema.ckpt"
    torch.save({"state_dict": state_dict}, path)

    loaded = load_generator(path, prefix="generator_ema.")
    assert torch.equal(loaded.state_dict()["out_layer.0.weight"], source.out_layer[0].weight)


def test_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    state_dict = Generator().state_dict()
    del state_dict["block_e.2.2.bias"]
    path = tmp_path / "partial.pt"
    torch.save(state_dict, path)
    with pytest.raises(ValueError, match=r"block_e\.2\.2\.bias"):
        load_generator(path)


def test_wrong_shape_is_a_clear_error(tmp_path: Path) -> None:
    state_dict = Generator().state_dict()
    state_dict["out_layer.0.weight"] = torch.zeros(3, 16, 1, 1)
    path = tmp_path / "wrong.pt"
    torch.save(state_dict, path)
    with pytest.raises(ValueError, match=r"out_layer\.0\.weight"):
        load_generator(path)


def test_unexpected_key_is_a_clear_error(tmp_path: Path) -> None:
    state_dict = Generator().state_dict()
    state_dict["block_f.0.weight"] = torch.zeros(1)
    path = tmp_path / "extra.pt"
    torch.save(state_dict, path)
    with pytest.raises(ValueError, match=r"block_f\.0\.weight"):
        load_generator(path)


def test_file_without_generator_weights(tmp_path: Path) -> None:
    path = tmp_path / "d_only.ckpt"
    torch.save({"state_dict": {"discriminator.layers.0.weight": torch.zeros(2)}}, path)
    with pytest.raises(ValueError, match="no generator weights") as info:
        load_generator(path)
    message = str(info.value)
    assert "discriminator.layers.0.weight" in message
    assert "block_a.0.1.weight" in message


class _NotATensor:
    pass


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pt"
    torch.save({"state_dict": {"x": _NotATensor()}}, path)
    with pytest.raises(ValueError, match="weights_only"):
        load_generator(path)


def test_missing_file_says_what_to_put_there(tmp_path: Path) -> None:
    path = tmp_path / "face_paint.pt"
    with pytest.raises(WeightsNotFoundError) as info:
        load_generator(path)
    assert isinstance(info.value, FileNotFoundError)
    assert str(path) in str(info.value)
    assert "face_paint_512_v2.pt" in str(info.value)


def test_export_refuses_other_modules(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Generator layout"):
        export_state_dict(nn.Linear(2, 2), tmp_path / "x.pt")
