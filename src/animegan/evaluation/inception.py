"""Feature extractors for FID/KID: the FID Inception-v3 and a small random stand-in.

Every image entering is float ``[B, 3, H, W]`` RGB in ``[-1, 1]`` (the generator's range); each
network converts to the input it was trained on. The Inception weights come from
:func:`animegan.models.weights.resolve_weights_file` (the given file, the torch hub cache, a
download when allowed); :class:`RandomConvFeatures` needs no file (tests and offline smoke runs:
its values are only comparable with themselves).
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from animegan.evaluation.cache import weights_file_id
from animegan.models.weights import (
    hub_checkpoint_path,
    load_state_dict_file,
    resolve_weights_file,
    url_file_name,
)
from animegan.utils.images import to_uint8_image

__all__ = ["INCEPTION_URL", "InceptionFeatures", "RandomConvFeatures", "inception_cache_path"]

# torch-fidelity's conversion of the TF FID Inception (the weights every published FID uses).
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)
OFFLINE_HINT = (
    "Without these weights, RandomConvFeatures and LPIPSNetwork(backbone='random') need no file "
    "(values comparable only among themselves)."
)


def inception_cache_path() -> Path:
    """Where torch-fidelity/torchmetrics keep the FID Inception weights (``$TORCH_HOME`` honoured).

    Returns:
        ``<torch hub dir>/checkpoints/weights-inception-2015-12-05-6726825d.pth`` (~91 MB).
    """
    return hub_checkpoint_path(url_file_name(INCEPTION_URL))


@functools.cache
def _inception_class() -> type[nn.Module]:
    # Imported on first use: torch-fidelity is only needed for the real Inception.
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ModuleNotFoundError as error:  # pragma: no cover - dependency is pinned
        raise ModuleNotFoundError(
            "the FID Inception needs torch-fidelity: pip install torch-fidelity==0.4.0"
        ) from error

    class _InceptionV3(NoTrainInceptionV3):
        """torchmetrics' Inception, built without its own (network, unsafe-pickle) weight load."""

        def load_state_dict(self, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
            # The constructor loads whatever it is given; we hand it {} and load the real file
            # ourselves with weights_only=True afterwards.
            if not state_dict:
                return None
            return super().load_state_dict(state_dict, *args, **kwargs)

    return _InceptionV3


def _empty_state_dict_file() -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save({}, buffer)
    buffer.seek(0)
    return buffer


class InceptionFeatures(nn.Module):
    """FID Inception-v3 pool features (torchmetrics ``NoTrainInceptionV3``, torch-fidelity weights).

    Resize policy: images are resized to 299×299 inside the network, by default with the
    TensorFlow-1 compatible bilinear resize of the original FID code (``antialias=False``), so
    values are comparable with published FIDs; ``antialias=True`` uses torchmetrics' antialiased
    resize instead. Images are quantised to uint8 first (as the original code reads image files).

    Args:
        weights_path: local weight file; ``None`` looks in the torch hub cache
            (:func:`inception_cache_path`), then downloads if ``allow_download``.
        allow_download: fetch :data:`INCEPTION_URL` when no file is found (needs internet).
        feature_dim: feature layer, one of 64, 192, 768, 2048 (FID standard: 2048).
        antialias: resize with antialiasing instead of the TF1-compatible bilinear resize.
        random_weights: build the architecture with random weights (benchmarks, offline structure
            tests); values are meaningless. Needs no file.
        seed: seed of the random weights.

    Raises:
        WeightsNotFoundError: no weights file and no download (message says where to put it).
    """

    def __init__(
        self,
        *,
        weights_path: str | os.PathLike[str] | None = None,
        allow_download: bool = True,
        feature_dim: int = 2048,
        antialias: bool = False,
        random_weights: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if feature_dim not in (64, 192, 768, 2048):
            raise ValueError(f"feature_dim must be 64, 192, 768 or 2048, got {feature_dim}")
        weights_file = None
        if not random_weights:
            weights_file = resolve_weights_file(
                weights_path,
                what="FID Inception weights",
                owner="InceptionFeatures",
                url=INCEPTION_URL,
                cache_path=inception_cache_path(),
                allow_download=allow_download,
                hint=OFFLINE_HINT,
            )
        # Construction initialises weights from the global RNG; fork it so building a metric never
        # changes the training run's random stream.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = _inception_class()(
                name="inception-v3-compat",
                features_list=[str(feature_dim)],
                feature_extractor_weights_path=_empty_state_dict_file(),
                antialias=antialias,
            )
        if weights_file is not None:
            state_dict = load_state_dict_file(weights_file, what="FID Inception weights")
            network.load_state_dict(state_dict, strict=True)
        else:
            warnings.warn(
                "InceptionFeatures(random_weights=True): FID/KID values are meaningless",
                UserWarning,
                stacklevel=2,
            )
        self.network = network
        self.num_features = int(feature_dim)
        resize = "antialias" if antialias else "tf1"
        weights = f"random-s{seed}" if weights_file is None else weights_file_id(weights_file)
        self.extractor_id = f"inception-v3/{feature_dim}/{resize}/{weights}"
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> InceptionFeatures:
        """Stay in eval mode whatever ``mode`` says: a frozen metric network never trains."""
        return super().train(False)

    def forward(self, images: Tensor) -> Tensor:
        """Features of ``images`` [B, 3, H, W] in [-1, 1]; returns float32 [B, feature_dim]."""
        return self.network(to_uint8_image(images)).float()


class RandomConvFeatures(nn.Module):
    """A small random conv net as a stand-in feature extractor (tests, offline smoke runs).

    Resize policy: images are resized to ``input_size``² (bilinear, antialiased), then three
    stride-2 3×3 convs with LeakyReLU(0.2) and a global average pool give ``num_features`` values.
    Weights are drawn from a private generator seeded by ``seed``, so the same seed gives the
    same extractor everywhere without touching the global RNG.

    Args:
        num_features: output feature size D (>= 1).
        input_size: side the images are resized to, pixels (>= 8).
        seed: weight seed; part of :attr:`extractor_id` (and so of the statistics cache key).
    """

    def __init__(self, *, num_features: int = 64, input_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        if num_features < 1 or input_size < 8:
            raise ValueError(
                f"need num_features >= 1 and input_size >= 8, got {num_features}, {input_size}"
            )
        widths = [3, 16, 32, num_features]
        self.layers = nn.Sequential(
            *[
                module
                for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
                for module in (nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2))
            ]
        )
        generator = torch.Generator().manual_seed(seed)
        for layer in self.layers:
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_uniform_(layer.weight, a=0.2, generator=generator)
                nn.init.uniform_(layer.bias, -0.1, 0.1, generator=generator)
        self.input_size = int(input_size)
        self.num_features = int(num_features)
        self.extractor_id = f"random-conv/{num_features}/{input_size}/s{seed}"
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: Tensor) -> Tensor:
        """Features of ``images`` [B, 3, H, W] in [-1, 1]; returns float32 [B, num_features]."""
        resized = F.interpolate(
            images.float(),
            size=(self.input_size, self.input_size),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        return self.layers(resized).mean(dim=(2, 3))
