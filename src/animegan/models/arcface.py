"""ArcFace IResNet backbones with insightface arcface_torch's module layout and key names.

``backbone.pth`` files written by arcface_torch (e.g. ``ms1mv3_arcface_r50_fp16/backbone.pth``)
load with ``strict=True``; insightface's ONNX recognisers (``buffalo_l/w600k_r50.onnx``) load
through :func:`animegan.models.arcface_onnx.load_arcface_onnx_weights`, which reads the ONNX
initializers into the same layout.

Input: RGB 112x112 in [-1, 1] (``(pixel - 127.5) / 127.5``, insightface's ``ArcFaceONNX``
preprocessing). Output: [B, 512] embedding, not normalised.

The networks built by :func:`iresnet50` & co. are identity *judges* for losses and metrics:
frozen (no parameter requires grad), always in eval mode (BatchNorm statistics never change),
gradients still flow to the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from animegan.models.arcface_onnx import load_arcface_onnx_weights
from animegan.models.weights import (
    describe_keys,
    load_state_dict_file,
    resolve_weights_file,
    strip_wrapper_prefixes,
)

__all__ = [
    "IBasicBlock",
    "IResNet",
    "IRESNET_LAYERS",
    "iresnet18",
    "iresnet34",
    "iresnet50",
    "iresnet100",
    "load_arcface_onnx_weights",
]

# Blocks per stage of arcface_torch's backbones.
IRESNET_LAYERS: dict[str, tuple[int, int, int, int]] = {
    "r18": (2, 2, 2, 2),
    "r34": (3, 4, 6, 3),
    "r50": (3, 4, 14, 3),
    "r100": (3, 13, 30, 3),
}
_BN_EPS = 1e-5
_INPUT_SIZE = 112


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class IBasicBlock(nn.Module):
    """Pre-activation residual block: BN · conv3x3 · BN · PReLU · conv3x3(stride) · BN (+ shortcut).

    Args:
        inplanes: input channels.
        planes: output channels.
        stride: stride of the second convolution (2 in the first block of each stage).
        downsample: shortcut projection (conv1x1 + BN) when shape changes, else ``None``.
    """

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=_BN_EPS)
        self.conv1 = _conv3x3(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes, eps=_BN_EPS)
        self.prelu = nn.PReLU(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes, eps=_BN_EPS)
        self.downsample = downsample if downsample is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """[B, inplanes, H, W] → [B, planes, H/stride, W/stride]."""
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + self.downsample(x)


class IResNet(nn.Module):
    """ArcFace IResNet (arcface_torch ``backbones/iresnet.py``), frozen and in eval mode.

    Key layout: ``conv1``, ``bn1``, ``prelu``, ``layer1..4.i.{bn1, conv1, bn2, prelu, conv2, bn3,
    downsample.0, downsample.1}``, ``bn2``, ``fc`` (512 x 25088), ``features`` (BatchNorm1d).
    Dropout of the training recipe is omitted: it is the identity in eval mode and has no state.

    Args:
        layers: blocks per stage, e.g. ``(3, 4, 14, 3)`` for r50.
        num_features: embedding size (512 in every published model).
        frozen: freeze parameters and pin eval mode (the default; pass ``False`` only to
            train or fine-tune a backbone).
    """

    def __init__(
        self, layers: Sequence[int], num_features: int = 512, *, frozen: bool = True
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"IResNet needs 4 stage depths, got {list(layers)}")
        self.frozen = frozen
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=_BN_EPS)
        self.prelu = nn.PReLU(64)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1])
        self.layer3 = self._make_layer(256, layers[2])
        self.layer4 = self._make_layer(512, layers[3])
        self.bn2 = nn.BatchNorm2d(512, eps=_BN_EPS)
        self.fc = nn.Linear(512 * 7 * 7, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=_BN_EPS)
        # arcface_torch's init, so a random backbone has realistic activation scales.
        nn.init.constant_(self.features.weight, 1.0)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0, 0.1)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
        if frozen:
            self.requires_grad_(False)
            super().train(False)

    def _make_layer(self, planes: int, blocks: int) -> nn.Sequential:
        downsample = nn.Sequential(
            nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=2, bias=False),
            nn.BatchNorm2d(planes, eps=_BN_EPS),
        )
        layers: list[nn.Module] = [IBasicBlock(self.inplanes, planes, 2, downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def train(self, mode: bool = True) -> IResNet:
        """A frozen backbone ignores ``mode`` and stays in eval mode (BN statistics fixed)."""
        return super().train(False if self.frozen else mode)

    def forward(self, face: Tensor) -> Tensor:
        """Embed aligned faces.

        Args:
            face: [B, 3, 112, 112] RGB ArcFace crops in [-1, 1].

        Returns:
            [B, num_features] embeddings (not L2-normalised).
        """
        x = self.prelu(self.bn1(self.conv1(face)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.bn2(x), 1)
        return self.features(self.fc(x))


def _build(
    name: str,
    weights_path: str | Path | None,
    onnx_path: str | Path | None,
    frozen: bool,
) -> IResNet:
    model = IResNet(IRESNET_LAYERS[name], frozen=frozen)
    if weights_path is not None and onnx_path is not None:
        raise ValueError("give weights_path (arcface_torch .pth) or onnx_path, not both")
    owner = f"i{name.replace('r', 'resnet')}"  # the builder the user called, e.g. iresnet50
    if weights_path is not None:
        weights_file = resolve_weights_file(
            weights_path,
            what=f"ArcFace i{name} weights",
            owner=owner,
            hint=(
                f"Put arcface_torch's backbone.pth for i{name} there (e.g. "
                f"ms1mv3_arcface_{name}_fp16/backbone.pth from the insightface model zoo), "
                f"or give onnx_path=.../buffalo_l/w600k_r50.onnx instead."
            ),
        )
        state_dict = strip_wrapper_prefixes(
            load_state_dict_file(weights_file, what=f"ArcFace i{name} weights")
        )
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{weights_path} is not an arcface_torch i{name} state_dict: missing "
                f"{describe_keys(missing)}, unexpected {describe_keys(unexpected)}."
            )
    elif onnx_path is not None:
        onnx_file = resolve_weights_file(
            onnx_path,
            what="ArcFace ONNX weights",
            owner=owner,
            argument="onnx_path",
            hint=(
                "Put insightface's w600k_r50.onnx there (from the buffalo_l pack, "
                "~/.insightface/models/buffalo_l/)."
            ),
        )
        load_arcface_onnx_weights(model, onnx_file)
    return model


def iresnet18(
    weights_path: str | Path | None = None,
    onnx_path: str | Path | None = None,
    *,
    frozen: bool = True,
) -> IResNet:
    """ArcFace IResNet-18 (blocks 2, 2, 2, 2). See :func:`iresnet50` for the arguments."""
    return _build("r18", weights_path, onnx_path, frozen)


def iresnet34(
    weights_path: str | Path | None = None,
    onnx_path: str | Path | None = None,
    *,
    frozen: bool = True,
) -> IResNet:
    """ArcFace IResNet-34 (blocks 3, 4, 6, 3). See :func:`iresnet50` for the arguments."""
    return _build("r34", weights_path, onnx_path, frozen)


def iresnet50(
    weights_path: str | Path | None = None,
    onnx_path: str | Path | None = None,
    *,
    frozen: bool = True,
) -> IResNet:
    """ArcFace IResNet-50 (blocks 3, 4, 14, 3; 43.6 M parameters, 475 state_dict tensors).

    Args:
        weights_path: arcface_torch ``backbone.pth`` (a plain state_dict, loaded with
            ``weights_only=True`` and matched strictly); ``None`` keeps random weights.
        onnx_path: insightface ONNX recogniser of the same depth (``w600k_r50.onnx``), read
            from its initializers; exclusive with ``weights_path``.
        frozen: no parameter requires grad and the module stays in eval mode.

    Returns:
        The backbone; input [B, 3, 112, 112] RGB in [-1, 1], output [B, 512].

    Raises:
        WeightsNotFoundError: the named file does not exist.
        ValueError: the file does not match the i50 layout.
    """
    return _build("r50", weights_path, onnx_path, frozen)


def iresnet100(
    weights_path: str | Path | None = None,
    onnx_path: str | Path | None = None,
    *,
    frozen: bool = True,
) -> IResNet:
    """ArcFace IResNet-100 (blocks 3, 13, 30, 3). See :func:`iresnet50` for the arguments."""
    return _build("r100", weights_path, onnx_path, frozen)
