"""Frozen VGG19 feature extractor up to conv4_4 (before its ReLU), for content and style losses.

Input convention: RGB in [-1, 1], mapped inside ``forward`` to [0, 1] and normalised by the
ImageNet mean/std, which is what torchvision's ``VGG19_Weights.IMAGENET1K_V1`` were trained
with. The official TF code feeds Caffe VGG19 weights with BGR in [0, 255] minus the channel
means; those weights are not what torchvision ships, and feeding torchvision weights the Caffe
convention would put their inputs off the distribution they were trained on. Feature scales
differ between the two, so loss weights tuned on one are only approximately right for the other.

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

from animegan.models.weights import WeightsNotFoundError, describe_keys, load_state_dict_file

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
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILENAME


def _build_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 3
    for item in _VGG19_TO_CONV4_4:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
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


def _download_imagenet_state_dict() -> dict[str, torch.Tensor]:
    cache = vgg19_cache_path()
    try:
        return torch.hub.load_state_dict_from_url(
            VGG19_URL,
            model_dir=str(cache.parent),
            map_location="cpu",
            progress=True,
            check_hash=True,
            weights_only=True,
        )
    except (OSError, RuntimeError) as error:
        raise WeightsNotFoundError(
            f"ImageNet VGG19 weights ({VGG19_FILENAME}) are not in the torch hub cache "
            f"({cache}) and downloading them from {VGG19_URL} failed: {error}. Download the "
            f"file on a machine with internet and either copy it to {cache} or set "
            f"model.vgg.weights_path=/path/{VGG19_FILENAME}; for smoke tests only, "
            f"model.vgg.weights=random."
        ) from error


class VGG19Features(nn.Module):
    """VGG19 conv4_4 pre-activation features of RGB images in [-1, 1]; always frozen.

    Parameters never require grad and the module stays in eval mode even after ``.train()``,
    but gradients still flow to the input (the content/style losses need them on G's output).

    Args:
        weights: ``"imagenet"`` for torchvision's ``IMAGENET1K_V1`` weights, from
            ``weights_path`` if given, else the torch hub cache, else a download;
            ``"random"`` for random weights (smoke tests only; warns).
        weights_path: local torchvision vgg19 state_dict (full model with ``features.*`` and
            ``classifier.*`` keys, or features only); used only with ``weights="imagenet"``.

    Raises:
        WeightsNotFoundError: ImageNet weights are neither at ``weights_path``, nor cached,
            nor downloadable.
        ValueError: unknown ``weights``, or the file holds no VGG19 feature weights.
    """

    def __init__(
        self,
        weights: Literal["imagenet", "random"] = "imagenet",
        weights_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        if weights not in ("imagenet", "random"):
            raise ValueError(f"weights must be 'imagenet' or 'random', got {weights!r}")
        self.features = _build_features()
        # x in [-1, 1] -> ((x + 1) / 2 - mean) / std, folded into one affine map.
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("input_scale", 0.5 / std, persistent=False)
        self.register_buffer("input_shift", (0.5 - mean) / std, persistent=False)

        if weights == "random":
            warnings.warn(_RANDOM_WARNING, UserWarning, stacklevel=2)
            logger.warning(_RANDOM_WARNING)
        else:
            self.features.load_state_dict(self._imagenet_state_dict(weights_path), strict=True)

        self.requires_grad_(False)
        super().train(False)

    @staticmethod
    def _imagenet_state_dict(weights_path: str | Path | None) -> dict[str, torch.Tensor]:
        if weights_path is not None:
            source: Path = Path(weights_path)
            state_dict = load_state_dict_file(
                source,
                what="VGG19 weights",
                hint=(
                    f"Point model.vgg.weights_path at torchvision's {VGG19_FILENAME} "
                    f"(from {VGG19_URL}), or set model.vgg.weights=random for smoke tests."
                ),
            )
        else:
            source = vgg19_cache_path()
            if source.is_file():
                state_dict = load_state_dict_file(source, what="VGG19 weights")
            else:
                state_dict = _download_imagenet_state_dict()
        return _features_state_dict(state_dict, source)

    def train(self, mode: bool = True) -> VGG19Features:
        """Ignore ``mode``: the loss network stays in eval mode (frozen) forever."""
        return super().train(False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Extract conv4_4 features.

        Args:
            image: [B, 3, H, W] RGB in [-1, 1].

        Returns:
            [B, 512, floor(H/8), floor(W/8)] conv4_4 outputs before ReLU (unbounded).
        """
        return self.features(image * self.input_scale + self.input_shift)
