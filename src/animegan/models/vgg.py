"""Frozen VGG19 feature extractor up to conv4_4 (before its ReLU), for content and style losses.

Two weight sets, each fed the input convention it was trained with (input is always RGB in
[-1, 1]):

- ``weights="imagenet"`` (default): torchvision's ``VGG19_Weights.IMAGENET1K_V1``; the input is
  mapped to [0, 1] and normalised by the ImageNet mean/std. Downloads by itself.
- ``weights="caffe"``: the official AnimeGANv2 loss network, Caffe VGG19 from ``vgg19.npy``
  (TachibanaYoshino/AnimeGANv2 ``tools/vgg19.py``): the input is mapped to 0..255, reordered to
  BGR and the Caffe channel means are subtracted (no std); 2x2 max-pools pad like TF ``SAME``
  (ceil on odd sizes). The official loss weights were tuned on these features, so
  ``experiment=official`` uses them.

Both run the same 3x3 convs: ``forward`` is one per-channel affine map, then the convs. For
the Caffe weights the BGR reorder is folded into conv1_1 (its input channels are permuted at
load), which is exactly equivalent and costs nothing per step.

Layer indices match torchvision's ``vgg19().features`` (conv4_4 is ``features[25]``), so its
state_dict keys ``features.0.weight`` ... ``features.25.bias`` load directly.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from animegan.models.caffe_vgg import (
    CAFFE_BGR_MEAN,
    VGG19_NPY_FILENAME,
    VGG19_NPY_URL,
    load_caffe_vgg19_convs,
)
from animegan.models.weights import (
    describe_keys,
    hub_checkpoint_path,
    load_state_dict_file,
    resolve_weights_file,
)

logger = logging.getLogger(__name__)

VGG19_FILENAME = "vgg19-dcbb9e9d.pth"
# torchvision's VGG19_Weights.IMAGENET1K_V1.url; a test checks the two still agree.
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILENAME}"
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# torchvision's VGG19 ("E") up to conv4_4: ints are conv widths, "M" is 2x2 max pooling.
_VGG19_TO_CONV4_4: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512,
)  # fmt: skip
CONV4_4_INDEX = 25

_RANDOM_WARNING = (
    "VGG19Features uses random weights: content and style losses computed on random VGG "
    "features are meaningless; use weights='random' only for smoke tests."
)


def vgg19_cache_path() -> Path:
    """Where torchvision's ImageNet VGG19 file lives in the torch hub cache.

    Returns:
        ``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth`` (set ``TORCH_HOME`` to move it).
    """
    return hub_checkpoint_path(VGG19_FILENAME)


def _conv_indices() -> list[int]:
    """Index of each conv in ``_build_features()`` (a conv and its ReLU, or a pool, per item)."""
    indices, position = [], 0
    for item in _VGG19_TO_CONV4_4:
        if item == "M":
            position += 1
        else:
            indices.append(position)
            position += 2
    return indices


def _build_features(ceil_mode: bool = False) -> nn.Sequential:
    """conv1_1 .. conv4_4 (no final ReLU); ``ceil_mode`` pools like TF ``SAME`` on odd sizes."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in _VGG19_TO_CONV4_4:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
            continue
        assert isinstance(item, int)
        conv = nn.Conv2d(in_channels, item, kernel_size=3, padding=1)
        # torchvision's VGG init, so "random" features have realistic scales.
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(conv.bias)
        layers += [conv, nn.ReLU(inplace=True)]
        in_channels = item
    # Drop the ReLU after conv4_4: the losses use its pre-activation output.
    return nn.Sequential(*layers[: CONV4_4_INDEX + 1])


def _features_state_dict(
    state_dict: dict[str, torch.Tensor], source: Path | str
) -> dict[str, torch.Tensor]:
    """Pick the conv1_1..conv4_4 tensors out of a full VGG19 or a features-only state_dict."""
    if any(k.startswith("features.") for k in state_dict):
        state_dict = {
            k[len("features.") :]: v for k, v in state_dict.items() if k.startswith("features.")
        }
    picked = {
        k: v
        for k, v in state_dict.items()
        if k.split(".")[0].isdigit() and int(k.split(".")[0]) <= CONV4_4_INDEX
    }
    if not picked:
        raise ValueError(
            f"{source} holds no VGG19 feature weights. Found keys "
            f"{describe_keys(list(state_dict))}; expected torchvision vgg19 keys like "
            f"'features.0.weight' (full model) or '0.weight' (features only)."
        )
    return picked


def vgg19_npy_cache_path() -> Path:
    """Where ``weights="caffe"`` looks for ``vgg19.npy`` when no ``weights_path`` is given.

    Returns:
        ``torch.hub.get_dir()/checkpoints/vgg19.npy`` (set ``TORCH_HOME`` to move it).
    """
    return hub_checkpoint_path(VGG19_NPY_FILENAME)


def _caffe_state_dict(weights_path: str | Path | None) -> dict[str, torch.Tensor]:
    """conv1_1 .. conv4_4 of ``vgg19.npy`` under ``_build_features`` keys, conv1_1 in RGB order."""
    path = resolve_weights_file(
        weights_path,
        what=f"Caffe VGG19 weights ({VGG19_NPY_FILENAME})",
        owner="VGG19Features",
        cache_path=vgg19_npy_cache_path(),
        hint=(
            f"Download the official {VGG19_NPY_FILENAME} (the AnimeGANv2 README links "
            f"{VGG19_NPY_URL}); weights='imagenet' uses torchvision's weights."
        ),
    )
    convs = load_caffe_vgg19_convs(path)
    conv_indices = _conv_indices()
    state_dict: dict[str, torch.Tensor] = {}
    for index, (weight, bias) in zip(conv_indices, convs, strict=True):
        state_dict[f"{index}.weight"] = weight
        state_dict[f"{index}.bias"] = bias
    # The file's conv1_1 expects BGR input; reversing its input channels makes it take RGB.
    state_dict["0.weight"] = state_dict["0.weight"].flip(1).contiguous()
    return state_dict


class VGG19Features(nn.Module):
    """VGG19 conv4_4 pre-activation features of RGB images in [-1, 1]; always frozen.

    Parameters never require grad and the module stays in eval mode even after ``.train()``,
    but gradients still flow to the input (the content/style losses need them on G's output).

    Args:
        weights: ``"imagenet"`` for torchvision's ``IMAGENET1K_V1`` weights, from
            ``weights_path`` if given, else the torch hub cache, else a download;
            ``"caffe"`` for the official Caffe VGG19 from ``vgg19.npy`` (``weights_path``, else
            ``torch.hub.get_dir()/checkpoints/vgg19.npy``; never downloaded: it is ~548 MB
            and the official link is a release page); ``"random"`` for random weights (smoke
            tests only; warns).
        weights_path: a local weight file: torchvision's vgg19 state_dict (full model or
            features only) for ``"imagenet"``, the official ``vgg19.npy`` for ``"caffe"``.

    Raises:
        WeightsNotFoundError: the weights are neither at ``weights_path``, nor cached, nor
            (ImageNet only) downloadable.
        InvalidWeightsError: ``vgg19.npy`` is truncated, malformed, lacks a layer, has a wrong
            shape, or its pickle would call code (refused before anything runs).
        ValueError: unknown ``weights``, or the file holds no VGG19 feature weights.
    """

    def __init__(
        self,
        weights: Literal["imagenet", "caffe", "random"] = "imagenet",
        weights_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        if weights not in ("imagenet", "caffe", "random"):
            raise ValueError(f"weights must be 'imagenet', 'caffe' or 'random', got {weights!r}")
        self.weights = weights
        self.features = _build_features(ceil_mode=weights == "caffe")
        if weights == "caffe":
            # x in [-1, 1] -> (x + 1) / 2 * 255 - mean (RGB order; conv1_1 is permuted to RGB).
            mean = torch.tensor(CAFFE_BGR_MEAN[::-1]).view(1, 3, 1, 1)
            self.register_buffer("input_scale", torch.full((1, 3, 1, 1), 127.5), persistent=False)
            self.register_buffer("input_shift", 127.5 - mean, persistent=False)
        else:
            # x in [-1, 1] -> ((x + 1) / 2 - mean) / std, folded into one affine map.
            mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
            self.register_buffer("input_scale", 0.5 / std, persistent=False)
            self.register_buffer("input_shift", (0.5 - mean) / std, persistent=False)

        if weights == "random":
            warnings.warn(_RANDOM_WARNING, UserWarning, stacklevel=2)
            logger.warning(_RANDOM_WARNING)
        elif weights == "caffe":
            self.features.load_state_dict(_caffe_state_dict(weights_path), strict=True)
        else:
            self.features.load_state_dict(self._imagenet_state_dict(weights_path), strict=True)

        self.requires_grad_(False)
        super().train(False)

    @staticmethod
    def _imagenet_state_dict(weights_path: str | Path | None) -> dict[str, torch.Tensor]:
        source = resolve_weights_file(
            weights_path,
            what=f"ImageNet VGG19 weights ({VGG19_FILENAME})",
            owner="VGG19Features",
            url=VGG19_URL,
            cache_path=vgg19_cache_path(),
            allow_download=True,
            check_hash=True,
            hint="For smoke tests only, weights='random' needs no file.",
        )
        state_dict = load_state_dict_file(source, what="VGG19 weights")
        return _features_state_dict(state_dict, source)

    def train(self, mode: bool = True) -> VGG19Features:
        """Ignore ``mode``: the loss network stays in eval mode (frozen) forever."""
        return super().train(False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Extract conv4_4 features.

        Args:
            image: [B, 3, H, W] RGB in [-1, 1].

        Returns:
            [B, 512, H/8, W/8] conv4_4 outputs before ReLU (unbounded); H/8 rounds down for
            ``"imagenet"`` (torchvision's pools) and up for ``"caffe"`` (TF ``SAME`` pools).
        """
        return self.features(image * self.input_scale + self.input_shift)
