"""Caffe VGG19 from ``vgg19.npy``: safe loading, bad files, and features against a NumPy reference.

The reference below re-derives ``tools/vgg19.py`` of TachibanaYoshino/AnimeGANv2 in NumPy
(NHWC, BGR, mean subtraction, SAME convs, SAME 2x2 max-pools, conv4_4 without ReLU), on a
randomly filled file of the official format. Nothing here downloads anything.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.lib.format as npy_format
import pytest
import torch

from animegan.models import InvalidWeightsError, VGG19Features, WeightsNotFoundError
from animegan.models.caffe_vgg import CAFFE_CONV_LAYERS, load_caffe_vgg19_convs, read_pickled_npy

BGR_MEAN = np.array([103.939, 116.779, 123.68])


def _random_layers(seed: int = 0) -> dict[str, list[np.ndarray]]:
    """conv1_1..conv4_4 with He-scaled random weights, plus layers the loader must ignore."""
    rng = np.random.default_rng(seed)
    layers: dict[str, list[np.ndarray]] = {}
    for name, cin, cout in CAFFE_CONV_LAYERS:
        weight = rng.normal(0.0, np.sqrt(2.0 / (9 * cin)), (3, 3, cin, cout)).astype(np.float32)
        bias = rng.normal(0.0, 0.1, (cout,)).astype(np.float32)
        layers[name] = [weight, bias]
    layers["conv5_1"] = [np.zeros((3, 3, 512, 4), np.float32), np.zeros(4, np.float32)]
    layers["fc8"] = [np.zeros((7, 5), np.float32), np.zeros(5, np.float32)]
    return layers


def _write_npy_with_pickle(path: Path, payload: bytes) -> Path:
    """An .npy file of an object array of shape () whose body is ``payload`` (any pickle)."""
    with path.open("wb") as stream:
        npy_format.write_array_header_1_0(
            stream, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        stream.write(payload)
    return path


@pytest.fixture(scope="module")
def layers() -> dict[str, list[np.ndarray]]:
    return _random_layers()


@pytest.fixture(scope="module")
def npy_file(tmp_path_factory: pytest.TempPathFactory, layers: dict) -> Path:
    path = tmp_path_factory.mktemp("vgg") / "vgg19.npy"
    np.save(path, layers, allow_pickle=True)  # the official format: np.save of a dict
    return path


def _reference_conv4_4(rgb_nhwc: np.ndarray, layers: dict[str, list[np.ndarray]]) -> np.ndarray:
    """NumPy float64 re-derivation of tools/vgg19.py up to conv4_4_no_activation."""
    scaled = (rgb_nhwc.astype(np.float64) + 1.0) / 2.0 * 255.0
    x = scaled[..., ::-1] - BGR_MEAN  # RGB -> BGR, minus the BGR means

    def conv(x: np.ndarray, name: str, relu: bool) -> np.ndarray:
        weight, bias = (a.astype(np.float64) for a in layers[name])
        h, w = x.shape[1:3]
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # SAME for 3x3 stride 1
        out = np.zeros((*x.shape[:3], weight.shape[-1]))
        for dy in range(3):
            for dx in range(3):
                out += padded[:, dy : dy + h, dx : dx + w, :] @ weight[dy, dx]
        out += bias
        return np.maximum(out, 0.0) if relu else out

    def pool(x: np.ndarray) -> np.ndarray:
        # TF SAME 2x2/2 max-pool: output ceil(n/2); the missing row/column counts as -inf.
        n, h, w, c = x.shape
        padded = np.full((n, h + h % 2, w + w % 2, c), -np.inf)
        padded[:, :h, :w] = x
        return padded.reshape(n, padded.shape[1] // 2, 2, padded.shape[2] // 2, 2, c).max((2, 4))

    for block in (("conv1_1", "conv1_2"), ("conv2_1", "conv2_2")):
        for name in block:
            x = conv(x, name, relu=True)
        x = pool(x)
    for name in ("conv3_1", "conv3_2", "conv3_3", "conv3_4"):
        x = conv(x, name, relu=True)
    x = pool(x)
    for name in ("conv4_1", "conv4_2", "conv4_3"):
        x = conv(x, name, relu=True)
    return conv(x, "conv4_4", relu=False)


@pytest.mark.parametrize("size", [(32, 32), (19, 23)])
def test_features_match_numpy_reference_of_official_vgg19(
    npy_file: Path, layers: dict, size: tuple[int, int]
) -> None:
    vgg = VGG19Features(weights="caffe", weights_path=npy_file)
    rgb = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        ours = vgg(rgb).permute(0, 2, 3, 1).double().numpy()
    reference = _reference_conv4_4(rgb.permute(0, 2, 3, 1).numpy(), layers)
    assert ours.shape == reference.shape == (2, -(-size[0] // 8), -(-size[1] // 8), 512)
    scale = np.abs(reference).max()
    assert np.abs(ours - reference).max() <= 1e-4 * scale


def test_caffe_vgg_is_frozen_and_passes_gradients(npy_file: Path) -> None:
    vgg = VGG19Features(weights="caffe", weights_path=npy_file).train()
    assert not vgg.training and not any(p.requires_grad for p in vgg.parameters())
    image = (torch.rand(1, 3, 16, 16) * 2 - 1).requires_grad_()
    vgg(image).square().mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_ignores_fc_and_conv5_layers(npy_file: Path) -> None:
    convs = load_caffe_vgg19_convs(npy_file)
    assert len(convs) == 12
    assert convs[0][0].shape == (64, 3, 3, 3) and convs[-1][0].shape == (512, 512, 3, 3)


class _Python2Pickler(pickle._Pickler):  # type: ignore[misc,name-defined]
    """Writes bytes as Python 2 ``str`` opcodes, as the official (Python 2) file has them."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def test_python2_pickle_loads_with_latin1(tmp_path: Path, layers: dict) -> None:
    holder = np.empty((), dtype=object)
    holder[()] = layers
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(holder)
    assert pickle.SHORT_BINSTRING in buffer.getvalue() or pickle.BINSTRING in buffer.getvalue()
    path = _write_npy_with_pickle(tmp_path / "py2.npy", buffer.getvalue())
    loaded = read_pickled_npy(path)
    np.testing.assert_array_equal(loaded["conv3_2"][0], layers["conv3_2"][0])


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _code_running_npy(tmp_path: Path, marker: Path) -> Path:
    payload = pickle.dumps({"conv1_1": [_RunsCode(marker), np.zeros(64, np.float32)]})
    return _write_npy_with_pickle(tmp_path / "evil.npy", payload)


def test_code_running_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _code_running_npy(tmp_path, marker)
    with pytest.raises(InvalidWeightsError, match=r"refused.*(posix|os|nt)\.system"):
        VGG19Features(weights="caffe", weights_path=path)
    assert not marker.exists()
    # What np.load(allow_pickle=True) would do with the same file, for contrast.
    np.load(path, allow_pickle=True, encoding="latin1")
    assert marker.exists()


class _ReconstructOtherType:
    def __reduce__(self) -> tuple:
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.dtype, (0,), b"b"))


def test_reconstruct_of_anything_but_ndarray_is_refused(tmp_path: Path) -> None:
    payload = pickle.dumps({"conv1_1": [_ReconstructOtherType()]})
    with pytest.raises(InvalidWeightsError, match="subtype .* is not allowed"):
        read_pickled_npy(_write_npy_with_pickle(tmp_path / "sub.npy", payload))


def _truncated(tmp: Path, npy_file: Path) -> Path:
    data = npy_file.read_bytes()
    (tmp / "t.npy").write_bytes(data[: len(data) // 3])
    return tmp / "t.npy"


def _wrong_shape(tmp: Path, _: Path) -> Path:
    layers = _random_layers()
    layers["conv2_1"][0] = layers["conv2_1"][0][..., :100]
    np.save(tmp / "s.npy", layers, allow_pickle=True)
    return tmp / "s.npy"


def _missing_layer(tmp: Path, _: Path) -> Path:
    layers = _random_layers()
    del layers["conv4_4"]
    np.save(tmp / "m.npy", layers, allow_pickle=True)
    return tmp / "m.npy"


def _zero_bytes(tmp: Path, _: Path) -> Path:
    (tmp / "z.npy").write_bytes(b"")
    return tmp / "z.npy"


def _not_npy(tmp: Path, _: Path) -> Path:
    (tmp / "x.npy").write_bytes(b"PK\x03\x04 this is a zip, not an npy")
    return tmp / "x.npy"


def _plain_array(tmp: Path, _: Path) -> Path:
    np.save(tmp / "p.npy", np.zeros((3, 3), np.float32))
    return tmp / "p.npy"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_truncated, "truncated or malformed"),
        (_wrong_shape, r"conv2_1 W has shape \(3, 3, 64, 100\), expected \(3, 3, 64, 128\)"),
        (_missing_layer, "no layer 'conv4_4'"),
        (_zero_bytes, "not a readable .npy"),
        (_not_npy, "not a readable .npy"),
        (_plain_array, "plain float32 array"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, npy_file: Path, make, message) -> None:
    path = make(tmp_path, npy_file)
    with pytest.raises(InvalidWeightsError, match=message) as info:
        VGG19Features(weights="caffe", weights_path=path)
    text = str(info.value)
    assert str(path) in text and "vgg16%2F19.npy" in text and "\n" not in text


def test_missing_file_names_where_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="vgg16%2F19.npy") as info:
        VGG19Features(weights="caffe")
    assert str(tmp_path / "checkpoints" / "vgg19.npy") in str(info.value)


def test_default_cache_location_is_used(tmp_path: Path, monkeypatch, npy_file: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "vgg19.npy").write_bytes(npy_file.read_bytes())
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    vgg = VGG19Features(weights="caffe")
    expected = load_caffe_vgg19_convs(npy_file)[5][0]
    assert torch.equal(vgg.features[12].weight, expected)  # conv3_2 is features[12]


@pytest.mark.parametrize("bad", ["evil", "truncated"])
def test_train_cli_stops_with_exit_code_2_before_any_step(
    tmp_path: Path, npy_file: Path, bad: str
) -> None:
    marker = tmp_path / "pwned"
    path = _code_running_npy(tmp_path, marker) if bad == "evil" else _truncated(tmp_path, npy_file)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "animegan.cli.train",
            "experiment=quickstart",
            "model.vgg.weights=caffe",
            f"model.vgg.weights_path={path}",
            f"paths.output_dir={tmp_path / 'run'}",
            "hydra.run.dir=" + str(tmp_path / "hydra"),
            "logger=none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"error: {path}" in result.stderr
    assert not marker.exists()
    assert not (tmp_path / "run" / "checkpoints").exists()
