"""LPIPS (Zhang et al. 2018) with explicit backbone weights, and the two LPIPS metrics.

``lpips_content``: mean LPIPS between each photo and its stylized image (lower = content kept).
``lpips_diversity``: mean pairwise LPIPS among the first ``diversity_images`` stylized images
(higher = outputs differ more from each other).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from animegan.evaluation.cache import weights_file_id
from animegan.evaluation.distributed import RowState
from animegan.evaluation.inception import OFFLINE_HINT
from animegan.evaluation.metric import Metric, MetricValues
from animegan.models.weights import (
    hub_checkpoint_path,
    load_state_dict_file,
    resolve_weights_file,
    url_file_name,
)
from animegan.utils.images import from_uint8_image, to_uint8_image

__all__ = [
    "LPIPSMetric",
    "LPIPSNetwork",
    "diversity_lpips",
    "lpips_backbone_cache_path",
    "lpips_backbone_url",
]

_LPIPS_BACKBONES: dict[str, tuple[str, str]] = {
    # net -> (torchvision builder, weights enum)
    "alex": ("alexnet", "AlexNet_Weights"),
    "vgg": ("vgg16", "VGG16_Weights"),
    "squeeze": ("squeezenet1_1", "SqueezeNet1_1_Weights"),
}


def lpips_backbone_url(net: str) -> str:
    """The torchvision ImageNet weight URL of an LPIPS backbone ``net`` (alex, vgg or squeeze)."""
    import torchvision

    if net not in _LPIPS_BACKBONES:
        raise ValueError(f"LPIPS net must be one of {sorted(_LPIPS_BACKBONES)}, got {net!r}")
    return getattr(torchvision.models, _LPIPS_BACKBONES[net][1]).IMAGENET1K_V1.url


def lpips_backbone_cache_path(net: str = "alex") -> Path:
    """Where torchvision keeps the ImageNet backbone an LPIPS ``net`` needs.

    Args:
        net: ``"alex"`` (alexnet-owt-7be5be79.pth, 233 MB), ``"vgg"`` or ``"squeeze"``.

    Returns:
        ``<torch hub dir>/checkpoints/<file name of the torchvision URL>``.
    """
    return hub_checkpoint_path(url_file_name(lpips_backbone_url(net)))


def _lpips_slices(backbone: nn.Module) -> list[nn.Sequential]:
    # torchmetrics splits the torchvision `features` Sequential into slices whose children keep
    # their original indices as names (alex/vgg: slice1..5, squeeze: a `slices` ModuleList).
    if hasattr(backbone, "slices"):
        return list(backbone.slices)
    return [getattr(backbone, f"slice{k}") for k in range(1, backbone.N_slices + 1)]


class LPIPSNetwork(nn.Module):
    """LPIPS (Zhang et al. 2018) as torchmetrics builds it, with explicit backbone weights.

    The learned linear layers ship inside torchmetrics (``lpips_models/<net>.pth``); the ImageNet
    backbone comes from ``weights_path``, the torch hub cache (:func:`lpips_backbone_cache_path`)
    or a download. Resize policy: none, images are compared at the size they are given.

    Args:
        net: backbone, ``"alex"`` (the LPIPS paper's default), ``"vgg"`` or ``"squeeze"``.
        backbone: ``"imagenet"`` (real weights) or ``"random"`` (seeded random backbone with the
            real linear layers: tests and offline smoke runs only).
        weights_path: local torchvision state_dict of the backbone (e.g. alexnet-owt-7be5be79.pth).
        allow_download: fetch the torchvision weights when no file is found (needs internet).
        seed: seed of the random backbone.

    Raises:
        WeightsNotFoundError: ``backbone="imagenet"`` and no weights file and no download.
    """

    def __init__(
        self,
        *,
        net: Literal["alex", "vgg", "squeeze"] = "alex",
        backbone: Literal["imagenet", "random"] = "imagenet",
        weights_path: str | os.PathLike[str] | None = None,
        allow_download: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        import torchvision
        from torchmetrics.functional.image.lpips import _NoTrainLpips

        if backbone not in ("imagenet", "random"):
            raise ValueError(f"backbone must be 'imagenet' or 'random', got {backbone!r}")
        url = lpips_backbone_url(net)
        weights_file = None
        if backbone == "imagenet":
            weights_file = resolve_weights_file(
                weights_path,
                what=f"LPIPS {net} backbone weights",
                owner="LPIPSNetwork",
                url=url,
                cache_path=lpips_backbone_cache_path(net),
                allow_download=allow_download,
                hint=OFFLINE_HINT,
            )
        with torch.random.fork_rng(devices=[]):  # random init must not move the global RNG
            torch.manual_seed(seed)
            # pnet_rand=True: torchmetrics would otherwise download the backbone itself.
            lpips = _NoTrainLpips(pretrained=True, net=net, pnet_rand=True)
            if weights_file is not None:
                full = getattr(torchvision.models, _LPIPS_BACKBONES[net][0])(weights=None)
        if weights_file is not None:
            full.load_state_dict(
                load_state_dict_file(weights_file, what=f"LPIPS {net} backbone weights")
            )
            for part in _lpips_slices(lpips.net):
                for name, child in part.named_children():
                    child.load_state_dict(full.features[int(name)].state_dict())
        self.lpips = lpips
        self.extractor_id = f"lpips/{net}/" + (
            f"random-s{seed}" if weights_file is None else weights_file_id(weights_file)
        )
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPSNetwork:
        """Stay in eval mode whatever ``mode`` says: a frozen metric network never trains."""
        return super().train(False)

    def features(self, images: Tensor) -> list[Tensor]:
        """Unit-normalised backbone activations per layer (the LPIPS feature stack).

        Args:
            images: [B, 3, H, W] in [-1, 1].

        Returns:
            One tensor [B, C_l, H_l, W_l] per LPIPS layer, each unit-norm over channels.
        """
        from torchmetrics.functional.image.lpips import _normalize_tensor

        outputs = self.lpips.net(self.lpips.scaling_layer(images.float()))
        return [_normalize_tensor(layer) for layer in outputs]

    def distance(self, features_a: Sequence[Tensor], features_b: Sequence[Tensor]) -> Tensor:
        """LPIPS between two feature stacks of the same batch size (or one of size 1).

        Args:
            features_a: output of :meth:`features` for one batch.
            features_b: the same for the other batch.

        Returns:
            [B] distances, >= 0; 0 for identical images.
        """
        per_layer = [
            lin((a - b) ** 2).mean(dim=(1, 2, 3))  # [B]: spatial mean of the weighted sq. diff
            for lin, a, b in zip(self.lpips.lins, features_a, features_b, strict=True)
        ]
        return torch.stack(per_layer).sum(dim=0)

    def forward(self, images_a: Tensor, images_b: Tensor) -> Tensor:
        """LPIPS per pair: ``images_a``, ``images_b`` [B, 3, H, W] in [-1, 1] → [B], >= 0."""
        return self.distance(self.features(images_a), self.features(images_b))


def diversity_lpips(lpips: LPIPSNetwork, images: Tensor, batch_size: int = 16) -> float:
    """Mean LPIPS over all unordered pairs of ``images`` (higher = more varied outputs).

    Each image's feature stack is computed once; pairs are then compared in feature space, so
    the cost is N forwards plus N(N-1)/2 cheap distance evaluations.

    Args:
        lpips: the LPIPS network.
        images: [N, 3, H, W] in [-1, 1], N >= 2, on the network's device.
        batch_size: images per backbone forward.

    Returns:
        The mean pairwise distance (a Python float).
    """
    count = images.shape[0]
    if count < 2:
        raise ValueError(f"diversity LPIPS needs at least 2 images, got {count}")
    chunks = [lpips.features(images[i : i + batch_size]) for i in range(0, count, batch_size)]
    stack = [torch.cat(layer) for layer in zip(*chunks, strict=True)]
    total = torch.zeros((), dtype=torch.float64, device=images.device)
    for i in range(count - 1):
        anchor = [layer[i : i + 1] for layer in stack]
        others = [layer[i + 1 :] for layer in stack]
        total += lpips.distance(anchor, others).double().sum()
    return float(total / (count * (count - 1) / 2))


class LPIPSMetric(Metric):
    """``lpips_content`` (photo vs its stylization, per image) and ``lpips_diversity``.

    Args:
        network: the LPIPS network.
        image_size: side S of the evaluated images (shape of the kept stylized images).
        diversity_images: the first this many stylized images (by photo index) give
            ``lpips_diversity``, their mean pairwise LPIPS (>= 2 images needed).
        batch_size: images per backbone forward for the diversity features.
    """

    def __init__(
        self,
        network: LPIPSNetwork,
        *,
        image_size: int,
        diversity_images: int = 32,
        batch_size: int = 16,
    ) -> None:
        if diversity_images < 2:
            raise ValueError(f"diversity_images must be >= 2, got {diversity_images}")
        self.network = network
        self.image_size = int(image_size)
        self.diversity_images = int(diversity_images)
        self.batch_size = int(batch_size)
        self.reset()

    def reset(self) -> None:
        """Forget the per-image distances and the kept stylized images."""
        size = self.image_size
        self._content = RowState(())
        self._diverse = RowState((3, size, size), dtype=torch.uint8)
        self._content_values = torch.zeros(0)
        self._diverse_images = torch.zeros(0, 3, size, size, dtype=torch.uint8)

    def update(self, photo: Tensor, stylized: Tensor, index: Tensor) -> None:
        """LPIPS of each pair; keeps the stylized images among the first ``diversity_images``."""
        self._content.append(index, self.network(photo, stylized).float())
        kept = index < self.diversity_images
        self._diverse.append(index[kept], to_uint8_image(stylized[kept]))

    def sync(self, device: torch.device) -> None:
        """Gather the distances and kept images of every rank in photo order (collective)."""
        self._content_values = self._content.gather(device)
        self._diverse_images = self._diverse.gather(device)

    def compute(self) -> MetricValues:
        """``lpips_content`` (mean, and per image), ``lpips_diversity`` when >= 2 images."""
        content = self._content_values
        values = MetricValues(
            metrics={"lpips_content": float(content.double().mean())},
            per_image={"lpips_content": content.tolist()},
        )
        diverse = self._diverse_images[: self.diversity_images]
        if diverse.shape[0] >= 2:
            device = next(self.network.parameters()).device
            values.metrics["lpips_diversity"] = diversity_lpips(
                self.network, from_uint8_image(diverse.to(device)), self.batch_size
            )
            values.info["diversity_images"] = int(diverse.shape[0])
        return values

    def to(self, device: torch.device | str) -> LPIPSMetric:
        """Move the LPIPS network to ``device``; returns ``self``."""
        self.network.to(device)
        return self
