"""Tests of animegan.export.prune: couplings, ranking, ratio 0, loading, ONNX, fine-tune."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from animegan.export.prune import (
    channel_scores,
    generator_channel_sets,
    prune_generator,
    prune_state_dict,
    save_pruned,
)
from animegan.export.prune_finetune import finetune_pruned
from animegan.models import Generator, count_parameters, export_state_dict, load_generator
from animegan.models.generator import GeneratorWidths
from animegan.models.generator_io import infer_generator_widths

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    model = Generator().eval()
    # Trained-looking norms: gamma/beta away from 1/0, so couplings that slice the wrong
    # affine entries show up in the outputs.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.GroupNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model


def _photo(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ------------------------------------------------------------------ widths and the layout


def test_default_widths_keep_the_published_layout() -> None:
    state = Generator().state_dict()
    assert len(state) == 77 and count_parameters(Generator()) == 2_143_552
    assert state["block_c.1.layers.1.1.bias"].shape == (256,)
    assert state["block_c.2.layers.0.1.weight"].shape == (512, 256, 1, 1)
    assert infer_generator_widths(state) == GeneratorWidths()
    torch.manual_seed(3)
    a = Generator().state_dict()
    torch.manual_seed(3)
    b = Generator(widths=GeneratorWidths()).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_widths_are_validated() -> None:
    with pytest.raises(ValueError, match="block_a needs 3"):
        GeneratorWidths(block_a=(32, 64))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        GeneratorWidths(block_c_residual=0)


def test_channel_sets_cover_every_tensor_once() -> None:
    state = Generator().state_dict()
    sets = generator_channel_sets()
    assert len(sets) == 17
    out_keys = [k for s in sets for k in s.out_keys]
    assert sorted(out_keys) == sorted(k for k in state if k != "out_layer.0.weight")
    in_keys = [k for s in sets for k in s.in_keys]
    # Every conv reads a prunable set except the first (RGB) and the depthwise ones (groups).
    convs = [k for k, v in state.items() if v.ndim == 4 and v.shape[1] != 1]
    assert sorted(in_keys) == sorted(k for k in convs if k != "block_a.0.1.weight")
    # Every tensor's dims agree with its set's size.
    for channel_set in sets:
        sizes = {state[k].shape[0] for k in channel_set.out_keys}
        sizes |= {state[k].shape[1] for k in channel_set.in_keys}
        assert len(sizes) == 1, channel_set.name


# ------------------------------------------------------------------ couplings, ratio 0


def test_ratio_zero_gives_identical_outputs(generator: Generator) -> None:
    pruned, result = prune_generator(generator, 0.0)
    assert result.widths == GeneratorWidths()
    photo = _photo(37, 53)
    with torch.inference_mode():
        assert torch.equal(pruned(photo), generator(photo))


@pytest.mark.parametrize(("ratio", "round_to"), [(0.3, 1), (0.6, 1), (0.4, 8)])
def test_pruned_generator_is_consistent_at_odd_sizes(
    generator: Generator, ratio: float, round_to: int
) -> None:
    pruned, result = prune_generator(generator, ratio, round_to=round_to)
    state = pruned.state_dict()
    assert set(state) == set(generator.state_dict())
    for channel_set in generator_channel_sets():
        sizes = {state[k].shape[0] for k in channel_set.out_keys}
        sizes |= {state[k].shape[1] for k in channel_set.in_keys}
        full = generator.state_dict()[channel_set.out_keys[0]].shape[0]
        keep = len(result.kept[channel_set.name])
        assert sizes == {keep}, channel_set.name
        assert keep < full
        if round_to > 1:
            assert keep % round_to == 0
    assert state["block_a.0.1.weight"].shape[1] == 3 and state["out_layer.0.weight"].shape[0] == 3
    assert count_parameters(pruned) < count_parameters(generator) * (1 - ratio) ** 2 * 1.2
    for height, width in [(8, 8), (37, 53), (65, 31)]:
        with torch.inference_mode():
            out = pruned(_photo(height, width))
        assert out.shape == (1, 3, height, width) and torch.isfinite(out).all()


def test_slices_take_the_kept_channels_of_the_original_tensors(generator: Generator) -> None:
    source = generator.state_dict()
    result = prune_state_dict(source, 0.5)
    sets = generator_channel_sets()
    for channel_set in sets:
        kept = torch.tensor(result.kept[channel_set.name])
        for key in channel_set.out_keys:
            expected = source[key].index_select(0, kept)
            reader = next((s for s in sets if key in s.in_keys), None)
            if reader is not None:  # a conv whose inputs are another set: sliced there too
                expected = expected.index_select(1, torch.tensor(result.kept[reader.name]))
            assert torch.equal(result.state_dict[key], expected), key


def test_residual_stream_keeps_one_channel_set(generator: Generator) -> None:
    # Mark each residual channel c by the value c in every tensor that carries the stream; if
    # any block kept a different set, its marker values would differ from the others'.
    state = {k: v.clone() for k, v in generator.state_dict().items()}
    markers = torch.arange(256, dtype=torch.float32)
    for block in (1, 2, 3, 4):
        state[f"block_c.{block}.layers.3.bias"] = markers.clone()
        if block > 1:
            state[f"block_c.{block}.layers.0.1.weight"][0, :, 0, 0] = markers
    state["block_c.5.1.weight"][0, :, 0, 0] = markers
    # Distinct per-block scores: block 3's project conv alone would rank other channels first.
    state["block_c.3.layers.2.weight"] = state["block_c.3.layers.2.weight"].flip(0)
    result = prune_state_dict(state, 0.4)
    pruned = result.state_dict
    kept = torch.tensor(result.kept["block_c.residual"], dtype=torch.float32)
    for block in (1, 2, 3, 4):
        assert torch.equal(pruned[f"block_c.{block}.layers.3.bias"], kept)
        if block > 1:
            assert torch.equal(pruned[f"block_c.{block}.layers.0.1.weight"][0, :, 0, 0], kept)
    assert torch.equal(pruned["block_c.5.1.weight"][0, :, 0, 0], kept)
    assert result.widths.block_c_residual == len(kept) == round(0.6 * 256)
    model = Generator(init="pytorch", widths=result.widths)
    model.load_state_dict(pruned, strict=True)  # the residual adds line up
    assert model(_photo(16, 24)).shape == (1, 3, 16, 24)


# ------------------------------------------------------------------ ranking


def test_ranking_removes_a_planted_zero_channel_first(generator: Generator) -> None:
    state = {k: v.clone() for k, v in generator.state_dict().items()}
    state["block_b.0.1.weight"][77].zero_()  # a conv output filter
    state["block_c.2.layers.0.1.weight"][300].zero_()  # an expand filter (bottleneck set)
    for block in (1, 2, 3, 4):  # a residual channel that no project conv writes
        state[f"block_c.{block}.layers.2.weight"][9].zero_()
    result = prune_state_dict(state, 0.01)  # removes 1-5 channels per set
    assert result.removed["block_b.0"][0] == 77 and 77 not in result.kept["block_b.0"]
    assert result.removed["block_c.2.bottleneck"][0] == 300
    assert result.removed["block_c.residual"][0] == 9
    # Every removed channel scores no higher than every kept one.
    for channel_set in generator_channel_sets():
        scores = channel_scores(state, channel_set)
        removed, kept = result.removed[channel_set.name], result.kept[channel_set.name]
        if removed:
            assert scores[removed].max() <= scores[kept].min()


def test_l1_gamma_ranking_uses_the_norm_scale(generator: Generator) -> None:
    state = {k: v.clone() for k, v in generator.state_dict().items()}
    state["block_d.0.1.weight"][5] *= 10.0  # big filter ...
    state["block_d.0.2.weight"][5] = 0.0  # ... whose layer-norm gamma silences it
    assert 5 in prune_state_dict(state, 0.3, score="l1").kept["block_d.0"]
    assert prune_state_dict(state, 0.3, score="l1_gamma").removed["block_d.0"][0] == 5


def test_removing_a_zero_channel_still_changes_the_output(generator: Generator) -> None:
    # Layer norm averages over all channels: a channel whose conv filter and affine are zero
    # contributes nothing downstream, yet removing it changes the mean/var of its own norm.
    state = {k: v.clone() for k, v in generator.state_dict().items()}
    state["block_e.0.1.weight"][11].zero_()
    state["block_e.0.2.weight"][11] = 0.0
    state["block_e.0.2.bias"][11] = 0.0
    full = Generator(init="pytorch")
    full.load_state_dict(state)
    channels = state["block_e.0.1.weight"].shape[0]
    result = prune_state_dict(state, 1 / channels)
    assert result.removed["block_e.0"] == [11]
    pruned = Generator(init="pytorch", widths=result.widths)
    pruned.load_state_dict(result.state_dict)
    photo = _photo(24, 24)
    with torch.inference_mode():
        diff = (pruned.eval()(photo) - full.eval()(photo)).abs().max().item()
    assert diff > 1e-4  # not lossless (0.55 max here with random weights)


@pytest.mark.parametrize("ratio", [-0.1, 1.0, float("nan")])
def test_bad_ratio_is_refused(generator: Generator, ratio: float) -> None:
    with pytest.raises(ValueError, match="ratio"):
        prune_state_dict(generator.state_dict(), ratio)


def test_other_layouts_are_refused(generator: Generator) -> None:
    state = dict(generator.state_dict())
    state["block_c.1.attention.weight"] = torch.zeros(4)
    with pytest.raises(ValueError, match="plain AnimeGANv2 generator layout"):
        prune_state_dict(state, 0.2)


# ------------------------------------------------------------------ files, ONNX, fine-tune


def test_pruned_file_loads_with_load_generator(generator: Generator, tmp_path: Path) -> None:
    pruned, result = prune_generator(generator, 0.5)
    path = save_pruned(pruned, tmp_path / "pruned.pt")
    loaded = load_generator(path)
    assert infer_generator_widths(loaded.state_dict()) == result.widths
    photo = _photo(29, 41)
    with torch.inference_mode():
        assert torch.equal(loaded(photo), pruned(photo))
    # Also inside a training checkpoint, and pruning a pruned file again works.
    ckpt = tmp_path / "pruned.ckpt"
    torch.save({"state_dict": {f"generator.{k}": v for k, v in pruned.state_dict().items()}}, ckpt)
    assert count_parameters(load_generator(ckpt)) == count_parameters(pruned)
    twice, _ = prune_generator(loaded, 0.5)
    assert count_parameters(twice) < count_parameters(pruned)
    # The published layout still loads unchanged.
    full = load_generator(export_state_dict(generator, tmp_path / "full.pt"))
    assert count_parameters(full) == 2_143_552


def test_inconsistent_pruned_file_is_refused(generator: Generator, tmp_path: Path) -> None:
    pruned, _ = prune_generator(generator, 0.5)
    state = dict(pruned.state_dict())
    state["block_d.1.1.weight"] = state["block_d.1.1.weight"][:, :-1]  # one input too few
    path = tmp_path / "broken.pt"
    torch.save(state, path)
    with pytest.raises(ValueError, match="do not fit"):
        load_generator(path)


def test_pruned_generator_exports_to_onnx_with_parity(generator: Generator, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from animegan.export import check_parity, export_onnx

    pruned, _ = prune_generator(generator, 0.6)
    path = export_onnx(pruned, tmp_path / "pruned.onnx")
    report = check_parity(pruned, path, sizes=[(33, 47), (64, 64)], batch=1, threads=1)
    assert report.passed, report.format()


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    yy, xx = np.mgrid[0:40, 0:40] / 39.0
    for i in range(3):
        image = np.stack([xx, yy, (xx + yy) / 2], axis=-1) * (0.4 + 0.2 * i)
        image[8 + i : 18 + i, 5:30] = (0.9, 0.3 * i, 0.1)
        Image.fromarray((image * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def test_finetune_moves_the_pruned_outputs_towards_the_unpruned(
    generator: Generator, photo_dir: Path
) -> None:
    teacher_before = {k: v.clone() for k, v in generator.state_dict().items()}
    student, _ = prune_generator(generator, 0.5)
    photos = sorted(photo_dir.iterdir())
    report = finetune_pruned(
        student, generator, photos, steps=20, batch_size=2, image_size=24, lr=1e-3
    )
    assert len(report.losses) == 20
    assert report.l1_last < 0.8 * report.l1_first, report.format()
    assert all(torch.equal(v, generator.state_dict()[k]) for k, v in teacher_before.items())
    assert not student.training


def test_finetune_content_term_needs_a_feature_extractor(
    generator: Generator, photo_dir: Path
) -> None:
    student, _ = prune_generator(generator, 0.5)
    with pytest.raises(ValueError, match="vgg"):
        finetune_pruned(student, generator, sorted(photo_dir.iterdir()), steps=1, content_weight=1)


def test_pruned_generator_quantizes_to_int8(
    generator: Generator, photo_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from animegan.export import export_onnx, measure_quality, quantize_int8
    from animegan.inference import OnnxBackend, TorchBackend

    pruned, _ = prune_generator(generator, 0.6)
    fp32 = export_onnx(pruned, tmp_path / "pruned.onnx")
    photos = sorted(photo_dir.iterdir())
    int8 = quantize_int8(fp32, tmp_path / "pruned.int8.onnx", photos[:2], calibration_size=32)
    report = measure_quality(
        TorchBackend(pruned), OnnxBackend(int8, intra_op_threads=1), photos[2:], size=32
    )
    assert 15.0 < report.psnr_mean_db < 80.0, report.format()
