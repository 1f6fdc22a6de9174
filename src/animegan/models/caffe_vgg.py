"""The official AnimeGANv2 loss network's weights: Caffe VGG19 from ``vgg19.npy``, read safely.

The official TensorFlow code (TachibanaYoshino/AnimeGANv2, ``tools/vgg19.py``) loads
``vgg19.npy``: a NumPy ``.npy`` file holding one pickled dict
``{"conv1_1": [W (3, 3, in, out) float32, b (out,) float32], ..., "fc8": [...]}`` written by
Python 2 (so its strings need ``encoding="latin1"``). ``np.load(..., allow_pickle=True)``
would run whatever code a crafted file's pickle names, so this module parses the ``.npy``
header itself and unpickles the payload with an allow-list: only NumPy's array and dtype
reconstructors (and the pickle opcodes for dicts, lists, tuples, strings and numbers) are
accepted. Anything else is refused before it is called.

Only conv1_1 .. conv4_4 are read; conv5_* and the fc layers in the file are ignored.
Download (official README, "Download vgg19"):
https://github.com/TachibanaYoshino/AnimeGAN/releases/tag/vgg16%2F19.npy
"""

from __future__ import annotations

import importlib
import io
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.lib.format as npy_format
import torch

from animegan.models.weights import InvalidWeightsError, WeightsNotFoundError

VGG19_NPY_FILENAME = "vgg19.npy"
VGG19_NPY_URL = "https://github.com/TachibanaYoshino/AnimeGAN/releases/tag/vgg16%2F19.npy"

# Caffe VGG19 up to conv4_4 in the order tools/vgg19.py builds them: (name, in, out).
CAFFE_CONV_LAYERS: tuple[tuple[str, int, int], ...] = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512), ("conv4_4", 512, 512),
)  # fmt: skip

# BGR channel means subtracted from 0..255 pixels (tools/vgg19.py, VGG_MEAN).
CAFFE_BGR_MEAN: tuple[float, float, float] = (103.939, 116.779, 123.68)

_ABOUT_FILE = (
    f"It should be the official {VGG19_NPY_FILENAME} (about 548 MB): an .npy file holding a "
    f"pickled dict {{'conv1_1': [W (3, 3, in, out), b (out,)], ..., 'conv4_4': [...], ...}}. "
    f"The official repository says to download it from {VGG19_NPY_URL}; point "
    f"model.vgg.weights_path at it."
)


class _Refused(pickle.UnpicklingError):
    """The pickle asked for something outside the allow-list (raised before it is called)."""


def _numpy_core(submodule: str) -> Any:
    """``numpy._core.<submodule>`` (NumPy 2) or ``numpy.core.<submodule>`` (NumPy 1.x)."""
    try:
        return importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:  # pragma: no cover - NumPy < 1.26
        return importlib.import_module(f"numpy.core.{submodule}")


def _checked_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # The only legitimate subtype in a weights file is ndarray itself; a subclass could run
    # arbitrary __array_finalize__/__setstate__ code.
    if subtype is not np.ndarray:
        raise _Refused(f"array subtype {subtype!r} is not allowed")
    return _numpy_core("multiarray")._reconstruct(subtype, shape, dtype)


def _checked_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise _Refused(f"buffer dtype {dtype!r} is not allowed")
    return _numpy_core("numeric")._frombuffer(buffer, dtype, shape, order)


def _checked_scalar(dtype: Any, *args: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise _Refused(f"scalar dtype {dtype!r} is not allowed")
    return _numpy_core("multiarray").scalar(dtype, *args)


def _allowed_globals() -> dict[tuple[str, str], Callable[..., Any] | type]:
    allowed: dict[tuple[str, str], Callable[..., Any] | type] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _checked_reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = _checked_scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _checked_frombuffer
    return allowed


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only NumPy array/dtype reconstructors (no other globals)."""

    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(
                f"the pickle names {module}.{name}, which is not a NumPy array or dtype; "
                f"refusing to load it (a weights file never needs to call other code)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("persistent ids are not allowed in a weights file")


def read_pickled_npy(path: str | Path) -> Any:
    """Read an ``.npy`` file whose payload is a pickle, allowing only NumPy arrays and dtypes.

    Python 2 pickles load (strings are decoded as latin1, as ``np.load`` is told to do for
    the official file).

    Args:
        path: the ``.npy`` file.

    Returns:
        The unpickled object; for an object array of shape ``()`` (``np.save`` of a dict),
        the object it holds.

    Raises:
        WeightsNotFoundError: ``path`` is not a file.
        InvalidWeightsError: not an ``.npy`` file, a plain (non-pickle) array, truncated, or
            its pickle names anything but
            NumPy array/dtype reconstructors (nothing the pickle names is ever called).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"{path} does not exist. {_ABOUT_FILE}")
    try:
        with path.open("rb") as stream:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(stream)
            else:
                shape, _, dtype = npy_format.read_array_header_2_0(stream)
            if not dtype.hasobject:
                raise InvalidWeightsError(
                    f"{path} holds a plain {dtype} array of shape {shape}, not a pickled dict "
                    f"of layers. {_ABOUT_FILE}"
                )
            payload = stream.read()
    except (ValueError, OSError, EOFError) as error:
        raise InvalidWeightsError(
            f"{path} is not a readable .npy file ({error}). {_ABOUT_FILE}"
        ) from None
    try:
        obj = _ArraysOnlyUnpickler(io.BytesIO(payload), encoding="latin1").load()
    except _Refused as error:
        raise InvalidWeightsError(f"{path} was refused: {error}. {_ABOUT_FILE}") from None
    except (
        pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
        AttributeError,
    ) as error:  # fmt: skip
        raise InvalidWeightsError(
            f"{path} is truncated or malformed ({type(error).__name__}: {error}). {_ABOUT_FILE}"
        ) from None
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        return obj.item()
    return obj


def _layer_arrays(data: Mapping[Any, Any], name: str, cin: int, cout: int, path: Path) -> tuple:
    if name not in data:
        raise InvalidWeightsError(
            f"{path} has no layer {name!r} (found {sorted(map(str, data))[:8]}...). {_ABOUT_FILE}"
        )
    entry = data[name]
    if not isinstance(entry, list | tuple) or len(entry) < 2:
        raise InvalidWeightsError(
            f"{path}: layer {name!r} should be [W, b], found {type(entry).__name__}. {_ABOUT_FILE}"
        )
    weight, bias = entry[0], entry[1]
    for what, array, shape in (("W", weight, (3, 3, cin, cout)), ("b", bias, (cout,))):
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating):
            raise InvalidWeightsError(
                f"{path}: {name} {what} is not a float array ({type(array).__name__}). "
                f"{_ABOUT_FILE}"
            )
        if tuple(array.shape) != shape:
            raise InvalidWeightsError(
                f"{path}: {name} {what} has shape {tuple(array.shape)}, expected {shape}. "
                f"{_ABOUT_FILE}"
            )
        if not np.isfinite(array).all():
            raise InvalidWeightsError(f"{path}: {name} {what} holds NaN or Inf. {_ABOUT_FILE}")
    return weight, bias


def load_caffe_vgg19_convs(path: str | Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Read conv1_1 .. conv4_4 of the official ``vgg19.npy`` as PyTorch conv weights.

    Args:
        path: the official ``vgg19.npy`` (or a file of the same format).

    Returns:
        Twelve ``(weight [out, in, 3, 3], bias [out])`` float32 pairs in network order. The
        weights are exactly the file's (HWIO transposed to OIHW); input channels stay in the
        file's BGR order.

    Raises:
        WeightsNotFoundError: ``path`` does not exist.
        InvalidWeightsError: the file is not of the official format (see ``read_pickled_npy``),
            lacks a layer, or a layer has the wrong shape or non-finite values.
    """
    path = Path(path).expanduser()
    data = read_pickled_npy(path)
    if not isinstance(data, Mapping):
        raise InvalidWeightsError(
            f"{path} holds a {type(data).__name__}, not a dict of layers. {_ABOUT_FILE}"
        )
    convs = []
    for name, cin, cout in CAFFE_CONV_LAYERS:
        weight, bias = _layer_arrays(data, name, cin, cout, path)
        convs.append(
            (
                torch.from_numpy(np.ascontiguousarray(weight.transpose(3, 2, 0, 1), np.float32)),
                torch.from_numpy(np.ascontiguousarray(bias, np.float32)),
            )
        )
    return convs
