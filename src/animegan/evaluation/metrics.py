"""Metric networks and metric math: FID, KID, content/diversity LPIPS, identity similarity.

Thin wrappers around torchmetrics (``FrechetInceptionDistance``, ``KernelInceptionDistance``, the
LPIPS network behind ``LearnedPerceptualImagePatchSimilarity``). Every image entering this module
is float ``[B, 3, H, W]`` RGB in ``[-1, 1]`` (the generator's range); each network converts to the
input it was trained on.

Weights never download silently during a test: each network first looks for a file named in its
config, then in the torch hub cache (``$TORCH_HOME/hub/checkpoints``), and only then downloads (when
``allow_download``). A missing file raises :class:`~animegan.models.WeightsNotFoundError` naming the
file, the URL and where to put it. The random extractors (:class:`RandomConvFeatures`,
``LPIPSNetwork(backbone="random")``) need no file and exist for tests and offline smoke runs: their
values are only comparable with themselves.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from animegan.models.weights import (
    hub_checkpoint_path,
    load_state_dict_file,
    resolve_weights_file,
    url_file_name,
)
from animegan.utils.images import to_uint8_image

__all__ = [
    "INCEPTION_URL",
    "FaceCrop",
    "IdentityModel",
    "InceptionFeatures",
    "LPIPSNetwork",
    "RandomConvFeatures",
    "ReferenceFeatureCache",
    "center_face_crop",
    "diversity_lpips",
    "file_list_fingerprint",
    "frechet_distance",
    "identity_similarity",
    "inception_cache_path",
    "kernel_inception_distance",
    "lpips_backbone_cache_path",
    "lpips_backbone_url",
]

# torch-fidelity's conversion of the TF FID Inception (the weights every published FID uses).
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)
_LPIPS_BACKBONES: dict[str, tuple[str, str]] = {
    # net -> (torchvision builder, weights enum)
    "alex": ("alexnet", "AlexNet_Weights"),
    "vgg": ("vgg16", "VGG16_Weights"),
    "squeeze": ("squeezenet1_1", "SqueezeNet1_1_Weights"),
}
_OFFLINE_HINT = (
    "Without these weights, RandomConvFeatures and LPIPSNetwork(backbone='random') need no file "
    "(values comparable only among themselves)."
)

# Maps face crops [B, 3, S, S] in [-1, 1] to embeddings [B, D] (e.g. ArcFace, D = 512).
IdentityModel = Callable[[Tensor], Tensor]
# (photo, fake_anime) [B, 3, H, W] -> (photo crops, fake crops) [B, 3, S, S] and a face mask [B].
FaceCrop = Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]


# ----------------------------------------------------------------------------------- weights
def inception_cache_path() -> Path:
    """Where torch-fidelity/torchmetrics keep the FID Inception weights (``$TORCH_HOME`` honoured).

    Returns:
        ``<torch hub dir>/checkpoints/weights-inception-2015-12-05-6726825d.pth`` (~91 MB).
    """
    return hub_checkpoint_path(url_file_name(INCEPTION_URL))


def lpips_backbone_url(net: str) -> str:
    """torchvision's ImageNet weight URL of an LPIPS backbone ``net`` (alex, vgg or squeeze)."""
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


def _file_id(path: Path) -> str:
    stat = path.stat()
    return f"{path.name}:{stat.st_size}"


# ------------------------------------------------------------------------ feature extractors
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
                hint=_OFFLINE_HINT,
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
        weights = f"random-s{seed}" if weights_file is None else _file_id(weights_file)
        self.extractor_id = f"inception-v3/{feature_dim}/{resize}/{weights}"
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> InceptionFeatures:
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


# ------------------------------------------------------------------------------------- LPIPS
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
                hint=_OFFLINE_HINT,
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
            f"random-s{seed}" if weights_file is None else _file_id(weights_file)
        )
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPSNetwork:
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
            features_a, features_b: outputs of :meth:`features`.

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


# ------------------------------------------------------------------------------- FID and KID
# The formulas are torchmetrics' (FrechetInceptionDistance, KernelInceptionDistance; the tests
# check equality), computed in a way that is exact but fast on CPU: torchmetrics takes the general
# eigenvalues of a 2048×2048 product (~1-2 min on 2 cores) and recomputes three kernel matrices per
# KID subset (100 subsets of 1,000: ~2 min); here FID uses a symmetric or a Gram-matrix form and
# KID the kernel matrices once, indexed per subset (both ~1 s for 1,000 × 2,048 features).


def frechet_distance(real_features: Tensor, fake_features: Tensor) -> float:
    """FID between two feature sets (float64 arithmetic).

    ``|mu_r - mu_f|² + Tr(S_r) + Tr(S_f) - 2 Tr((S_r S_f)^½)`` with unbiased covariances. The last
    trace is the nuclear norm of ``X_r X_fᵀ / sqrt((N-1)(M-1))`` (centred features) when one set
    is no larger than the feature size, else ``sum sqrt(eig(S_r^½ S_f S_r^½))``; both equal
    torchmetrics' ``sum sqrt(eig(S_r S_f))``.

    Args:
        real_features: [N, D] features of the reference (anime) images, N >= 2.
        fake_features: [M, D] features of the stylized images, M >= 2.

    Returns:
        The distance (~0 for equal sets, grows as the distributions move apart).
    """
    count_r, count_f = real_features.shape[0], fake_features.shape[0]
    if count_r < 2 or count_f < 2:
        raise ValueError(
            f"FID needs at least 2 reference and 2 stylized images, got {count_r} and {count_f}"
        )
    real, fake = real_features.double().cpu(), fake_features.double().cpu()
    mean_r, mean_f = real.mean(dim=0), fake.mean(dim=0)
    centred_r, centred_f = real - mean_r, fake - mean_f  # [N, D], [M, D]
    trace_r = centred_r.square().sum() / (count_r - 1)
    trace_f = centred_f.square().sum() / (count_f - 1)
    if min(count_r, count_f) <= real.shape[1]:
        # Tr((S_r S_f)^½) = sum of singular values of C = X_r X_fᵀ / sqrt((N-1)(M-1)), i.e. of
        # sqrt(eig(C Cᵀ)) on the smaller side: an eigvalsh of at most [min(N, M)]².
        cross = centred_r @ centred_f.T / math.sqrt((count_r - 1) * (count_f - 1))  # [N, M]
        gram = cross @ cross.T if count_r <= count_f else cross.T @ cross
        trace_sqrt = torch.linalg.eigvalsh(gram).clamp(min=0).sqrt().sum()
    else:
        cov_r = centred_r.T @ centred_r / (count_r - 1)  # [D, D]
        cov_f = centred_f.T @ centred_f / (count_f - 1)
        values, vectors = torch.linalg.eigh(cov_r)
        root_r = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
        trace_sqrt = torch.linalg.eigvalsh(root_r @ cov_f @ root_r).clamp(min=0).sqrt().sum()
    distance = (mean_r - mean_f).square().sum() + trace_r + trace_f - 2 * trace_sqrt
    return float(distance)


def kernel_inception_distance(
    real_features: Tensor,
    fake_features: Tensor,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float, int]:
    """KID: unbiased MMD² with the kernel ``(x·y / D + 1)³``, averaged over random subsets.

    Same subsets (``randperm`` of the real set, then of the fake set, per subset) and estimator
    as torchmetrics ``KernelInceptionDistance`` run under ``torch.manual_seed(seed)``. Small sets:
    ``subset_size`` is lowered to ``min(N, M)``, so a handful of validation photos still gives a
    value (with a larger spread). Subsets come from a private generator: the value is reproducible
    and the global RNG is untouched.

    Args:
        real_features: [N, D] reference features, N >= 2.
        fake_features: [M, D] stylized features, M >= 2.
        subsets: number of random subsets averaged.
        subset_size: images per subset (upper bound, see above).
        seed: subset sampling seed.

    Returns:
        ``(kid_mean, kid_std, subset_size_used)``; std is the population std over subsets.
    """
    size = min(subset_size, real_features.shape[0], fake_features.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 reference and 2 stylized images")
    real, fake = real_features.double().cpu(), fake_features.double().cpu()
    scale = 1.0 / real.shape[1]
    kernel_rr = (real @ real.T * scale + 1) ** 3  # [N, N]
    kernel_ff = (fake @ fake.T * scale + 1) ** 3  # [M, M]
    kernel_rf = (real @ fake.T * scale + 1) ** 3  # [N, M]
    generator = torch.Generator().manual_seed(seed)
    # Subset membership as 0/1 columns: the sum of K over a subset S is w_Sᵀ K w_S, so all
    # subsets are evaluated with three matrix products instead of 3 × subsets index copies.
    pick_r = torch.zeros(real.shape[0], subsets, dtype=torch.float64)  # [N, subsets]
    pick_f = torch.zeros(fake.shape[0], subsets, dtype=torch.float64)  # [M, subsets]
    for subset in range(subsets):
        pick_r[torch.randperm(real.shape[0], generator=generator)[:size], subset] = 1
        pick_f[torch.randperm(fake.shape[0], generator=generator)[:size], subset] = 1
    sum_rr = ((kernel_rr @ pick_r) * pick_r).sum(dim=0) - kernel_rr.diagonal() @ pick_r
    sum_ff = ((kernel_ff @ pick_f) * pick_f).sum(dim=0) - kernel_ff.diagonal() @ pick_f
    sum_rf = ((kernel_rf @ pick_f) * pick_r).sum(dim=0)
    scores = (sum_rr + sum_ff) / (size * (size - 1)) - 2 * sum_rf / size**2  # [subsets]
    return float(scores.mean()), float(scores.std(unbiased=False)), size


# ----------------------------------------------------------------------------------- identity
def center_face_crop(
    photo: Tensor, fake_anime: Tensor, size: int = 112
) -> tuple[Tensor, Tensor, Tensor]:
    """Default face crop: the whole image resized to ``size``² (photos are aligned face crops).

    Args:
        photo: [B, 3, H, W] in [-1, 1].
        fake_anime: its stylization, same shape.
        size: crop side in pixels (ArcFace: 112).

    Returns:
        ``(photo_crops, fake_crops, has_face)``: [B, 3, size, size] twice and a bool [B] mask
        (all True here; a detector-based crop marks photos without a face False).
    """

    def resize(images: Tensor) -> Tensor:
        return F.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )

    return resize(photo), resize(fake_anime), torch.ones(photo.shape[0], dtype=torch.bool)


def identity_similarity(
    identity_model: IdentityModel,
    photo: Tensor,
    fake_anime: Tensor,
    face_crop: FaceCrop | None = None,
) -> Tensor:
    """Cosine similarity of face embeddings of each photo and its stylized image.

    Args:
        identity_model: maps face crops [B, 3, S, S] in [-1, 1] to embeddings [B, D].
        photo: [B, 3, H, W] in [-1, 1].
        fake_anime: [B, 3, H, W] in [-1, 1], the stylized ``photo``.
        face_crop: ``(photo, fake) -> (photo crops, fake crops, has_face [B])``, the same crop
            applied to both images; default :func:`center_face_crop`.

    Returns:
        [B] float32 cosine similarities in [-1, 1] (1 = same identity direction); NaN where no
        face was found.
    """
    crop = face_crop if face_crop is not None else center_face_crop
    photo_crops, fake_crops, has_face = crop(photo, fake_anime)
    embeddings = identity_model(torch.cat([photo_crops, fake_crops])).float()
    photo_embedding, fake_embedding = embeddings.chunk(2)
    similarity = F.cosine_similarity(photo_embedding, fake_embedding, dim=1)
    return torch.where(
        has_face.to(similarity.device), similarity, torch.full_like(similarity, float("nan"))
    )


# ------------------------------------------------------------------- reference feature cache
def file_list_fingerprint(paths: Sequence[str | os.PathLike[str]]) -> str:
    """SHA-256 of the ordered list of (absolute path, size, mtime_ns): changes when any file does.

    Args:
        paths: image files, in the order they are evaluated.

    Returns:
        64 hex characters.
    """
    entries = []
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        stat = resolved.stat()
        entries.append([str(resolved), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


class ReferenceFeatureCache:
    """Reference-image features on disk, keyed by file list, image size and feature extractor.

    Real statistics are computed once per (dataset files, resize policy, extractor) and reused by
    every later evaluation, in training and in ``make eval`` (stylegan3's feature cache). Files are
    ``<cache_dir>/<key>.pt`` holding only tensors and strings, read with ``weights_only=True``.

    Args:
        cache_dir: folder for the cache files; ``None`` disables caching.
    """

    VERSION = 1

    def __init__(self, cache_dir: str | os.PathLike[str] | None) -> None:
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()

    def key(self, paths: Sequence[Path], image_size: int, extractor_id: str) -> str:
        """Cache key: hash of the file fingerprint, ``image_size`` (pixels) and ``extractor_id``."""
        payload = json.dumps(
            [self.VERSION, file_list_fingerprint(paths), int(image_size), extractor_id]
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def path(self, key: str) -> Path | None:
        """The cache file of ``key`` (``None`` when caching is off)."""
        return None if self.cache_dir is None else self.cache_dir / f"{key}.pt"

    def load(self, key: str) -> Tensor | None:
        """Cached features [N, D] float32, or ``None`` on a miss (or an unreadable file)."""
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a truncated or foreign file is a miss, recomputed and overwritten
            return None
        features = payload.get("features") if isinstance(payload, dict) else None
        return features if isinstance(features, Tensor) else None

    def save(self, key: str, features: Tensor, description: str = "") -> Path | None:
        """Write ``features`` [N, D] atomically; returns the file (``None`` when caching is off)."""
        path = self.path(key)
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({"features": features.detach().float().cpu(), "description": description}, tmp)
        os.replace(tmp, path)
        return path
