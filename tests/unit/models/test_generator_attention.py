"""Generator attention variants: none is the published generator, each variant trains/loads/exports."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from animegan.models import Generator, export_state_dict, load_generator
from animegan.models.attention import (
    SpatialAttention,
    SqueezeExcitation,
    attention_from_keys,
)
from animegan.models.generator import InvertedResBlock

VARIANTS = ("none", "se", "spatial", "both")
# Published 2,143,552; SE per block 256*16+16 + 16*256+256 = 8,464; spatial 2*49+1 = 99; x3 blocks.
PARAMS = {"none": 2_143_552, "se": 2_168_944, "spatial": 2_143_849, "both": 2_169_241}


def test_none_is_todays_generator_bit_for_bit() -> None:
    # Checksums of main's Generator() before this change (seed 0 init, seed 1 input).
    torch.manual_seed(0)
    generator = Generator(attention="none")
    state = generator.state_dict()
    assert len(state) == 77
    assert sum(v.double().abs().sum().item() for v in state.values()) == 104016.15757090382
    torch.manual_seed(1)
    photo = torch.rand(1, 3, 16, 16) * 2 - 1
    assert generator.eval()(photo).double().sum().item() == 35.89119163155556
    assert not any("attention" in name for name, _ in generator.named_modules())


@pytest.mark.parametrize("attention", VARIANTS)
def test_parameter_counts_and_key_placement(attention: str) -> None:
    with torch.device("meta"):
        generator = Generator(attention=attention)
    assert sum(p.numel() for p in generator.parameters()) == PARAMS[attention]
    gated = {key.split(".attention.")[0] for key in generator.state_dict() if ".attention." in key}
    assert gated == (set() if attention == "none" else {"block_c.2", "block_c.3", "block_c.4"})
    assert attention_from_keys(generator.state_dict()) == attention


def test_gates_scale_the_residual_branch_before_the_add() -> None:
    torch.manual_seed(0)
    block = InvertedResBlock(32, 32, attention="both").eval()
    features = torch.randn(2, 32, 9, 7)
    branch = block.layers(features)
    expected = block.attention.spatial(block.attention.se(branch)) + features
    torch.testing.assert_close(block(features), expected)
    # Hand-computed SE and spatial gates.
    se = block.attention.se
    pooled = branch.mean(dim=(2, 3), keepdim=True)
    gate = torch.sigmoid(se.expand(torch.relu(se.reduce(pooled))))
    torch.testing.assert_close(se(branch), branch * gate)
    assert isinstance(se, SqueezeExcitation) and se.reduce.out_channels == 32 // 16
    spatial = block.attention.spatial
    assert isinstance(spatial, SpatialAttention) and spatial.conv.kernel_size == (7, 7)
    maps = torch.stack([branch.mean(1), branch.max(1).values], dim=1)
    torch.testing.assert_close(spatial(branch), branch * torch.sigmoid(spatial.conv(maps)))


def test_bad_attention_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="attention must be one of none, se, spatial, both"):
        Generator(attention="cbam")
    with pytest.raises(ValueError, match="needs a residual block"):
        InvertedResBlock(128, 256, attention="se")


@pytest.mark.parametrize("attention", VARIANTS)
def test_load_generator_reads_the_variant_from_the_keys(attention: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = Generator(attention=attention).eval()
    path = export_state_dict(generator, tmp_path / "g.pt")
    loaded = load_generator(path)
    assert loaded.attention == attention
    photo = torch.rand(1, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(loaded(photo), generator(photo), rtol=0, atol=0)
    # The same weights inside a training checkpoint (generator. prefix).
    checkpoint = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    torch.save({"state_dict": checkpoint}, tmp_path / "run.ckpt")
    assert load_generator(tmp_path / "run.ckpt").attention == attention


def test_published_layout_loads_strictly_into_none(tmp_path: Path) -> None:
    torch.manual_seed(0)
    torch.save(Generator().state_dict(), tmp_path / "published.pt")
    loaded = load_generator(tmp_path / "published.pt")
    assert loaded.attention == "none"
    Generator(attention="none").load_state_dict(torch.load(tmp_path / "published.pt"), strict=True)


class _Batches(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        image = lambda: torch.rand(3, 16, 16, generator=generator) * 2 - 1  # noqa: E731
        gray = image().mean(0, keepdim=True).expand(3, -1, -1)
        return {"photo": image(), "anime": image(), "anime_gray": gray, "anime_smooth_gray": gray}


@pytest.mark.parametrize("attention", ("se", "spatial", "both"))
def test_each_variant_trains_one_gan_step_through_the_module(attention: str) -> None:
    import lightning as L

    from animegan.losses import AnimeGANObjective
    from animegan.training import AnimeGANModule

    torch.manual_seed(0)
    generator = Generator(attention=attention)
    before = {k: v.clone() for k, v in generator.state_dict().items() if ".attention." in k}
    features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2))
    features.requires_grad_(False)
    module = AnimeGANModule(
        generator=generator,
        discriminator=nn.Conv2d(3, 1, 3, padding=1),
        feature_extractor=features.eval(),
        objective=AnimeGANObjective({}, {}),
        init_optimizer=partial(torch.optim.Adam, lr=1e-3),
        generator_optimizer=partial(torch.optim.Adam, lr=1e-3),
        discriminator_optimizer=partial(torch.optim.Adam, lr=1e-3),
        init_epochs=0,
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, DataLoader(_Batches(), batch_size=1))
    after = generator.state_dict()
    assert before and all(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.slow
@pytest.mark.parametrize("attention", ("se", "spatial", "both"))
def test_each_variant_exports_to_onnx_with_parity_and_to_int8(
    attention: str, tmp_path: Path
) -> None:
    ort = pytest.importorskip("onnxruntime")
    from animegan.export import check_parity, export_onnx, quantize_int8

    ort.set_default_logger_severity(3)
    torch.manual_seed(0)
    generator = Generator(attention=attention).eval()
    onnx_path = export_onnx(generator, tmp_path / "g.onnx")
    report = check_parity(generator, onnx_path, sizes=((16, 16), (17, 23)), batch=1, threads=1)
    assert report.passed, report.format()
    photos = []
    for i in range(2):
        pixels = np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"p{i}.png")
        photos.append(tmp_path / f"p{i}.png")
    int8_path = quantize_int8(onnx_path, tmp_path / "g.int8.onnx", photos, calibration_size=32)
    session = ort.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
    photo = np.random.default_rng(5).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)
    (out,) = session.run(None, {session.get_inputs()[0].name: photo})[:1]
    assert out.shape == (1, 3, 16, 16) and np.isfinite(out).all()
