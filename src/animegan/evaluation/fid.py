"""FID and KID: distances between the features of stylized photos and reference anime."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from animegan.evaluation.distributed import RowState
from animegan.evaluation.metric import Metric, MetricValues

__all__ = ["FIDMetric", "frechet_distance", "kernel_inception_distance"]


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


class FIDMetric(Metric):
    """FID and (optionally) KID of the stylized photos against reference anime features.

    ``update`` embeds the stylized images with ``features``; the reference features come from
    :meth:`set_reference` (the evaluator computes them once and caches them on disk).

    Args:
        features: feature extractor, images [B, 3, H, W] in [-1, 1] → [B, D], with
            ``num_features`` (D) and ``extractor_id`` attributes.
        kid: compute ``kid_mean`` / ``kid_std`` too.
        kid_subsets: KID subsets averaged.
        kid_subset_size: KID subset size (lowered to the set sizes when they are smaller).
        seed: KID subset sampling seed.
    """

    def __init__(
        self,
        features: nn.Module,
        *,
        kid: bool = True,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        seed: int = 0,
    ) -> None:
        self.features = features
        self.kid = kid
        self.kid_subsets = int(kid_subsets)
        self.kid_subset_size = int(kid_subset_size)
        self.seed = int(seed)
        self.reset()

    def reset(self) -> None:
        """Forget the stylized features and the reference."""
        self._fake = RowState((int(self.features.num_features),))
        self._fake_features: Tensor | None = None
        self._real_features: Tensor | None = None
        self._cache_hit = False

    def update(self, photo: Tensor, stylized: Tensor, index: Tensor) -> None:
        """Embed ``stylized`` [B, 3, S, S] (in [-1, 1]); ``photo`` is not used."""
        self._fake.append(index, self.features(stylized).float())

    def sync(self, device: torch.device) -> None:
        """Gather the stylized features of every rank in photo order (collective)."""
        self._fake_features = self._fake.gather(device)

    def set_reference(self, features: Tensor, cache_hit: bool = False) -> None:
        """The reference anime features [N, D] (N >= 2), and whether they came from the cache."""
        self._real_features = features
        self._cache_hit = bool(cache_hit)

    def compute(self) -> MetricValues:
        """``fid`` (and ``kid_mean``, ``kid_std``); info: reference count, cache hit, KID size."""
        if self._real_features is None or self._fake_features is None:
            raise RuntimeError("FIDMetric.compute needs sync() and set_reference() first")
        real, fake = self._real_features, self._fake_features
        metrics = {"fid": frechet_distance(real, fake)}
        info: dict[str, Any] = {
            "num_reference": int(real.shape[0]),
            "reference_cache_hit": self._cache_hit,
        }
        if self.kid:
            kid_mean, kid_std, subset_size = kernel_inception_distance(
                real,
                fake,
                subsets=self.kid_subsets,
                subset_size=self.kid_subset_size,
                seed=self.seed,
            )
            metrics |= {"kid_mean": kid_mean, "kid_std": kid_std}
            info["kid_subset_size"] = subset_size
        return MetricValues(metrics=metrics, info=info)

    def to(self, device: torch.device | str) -> FIDMetric:
        """Move the feature extractor to ``device``; returns ``self``."""
        if isinstance(self.features, nn.Module):
            self.features.to(device)
        return self
