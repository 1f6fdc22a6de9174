"""One evaluation procedure shared by the training callback and ``make eval``.

:class:`Evaluator` stylizes a list of photos with a generator and computes every configured metric
against a list of reference anime images. The training callback and ``cli/eval.py`` both call
:meth:`Evaluator.evaluate` with the same inputs, so a value logged during training equals the one
``make eval`` reports for the same checkpoint (DESIGN.md §4).

Each metric is an object with ``reset``/``update``/``sync``/``compute``
(:mod:`animegan.evaluation.metric`; one module per metric: :mod:`~animegan.evaluation.fid`,
:mod:`~animegan.evaluation.lpips`, :mod:`~animegan.evaluation.identity`). ``evaluate`` stylizes
each batch, updates every metric, gathers them across ranks and computes.

Protocol (fixed here, set in ``conf/metrics/*.yaml``):

* Inputs: photos and reference anime are decoded, resized so the shorter side is ``image_size``
  and center-cropped to ``image_size``² (the validation transform of the datamodule).
  ``num_photos`` / ``num_reference`` cap the counts by taking evenly spaced files of the sorted
  lists (deterministic, spread over the whole set). Files the folder scan left out (undecodable,
  above the pixel limit, dangling links, folders named like images) are never dropped silently:
  they are logged in one warning and recorded with their reasons in the result (``skipped``) and
  its counts (``info``: ``photos_found``, ``photos_scored``, ``photos_skipped``, ...).
* Stylized images are quantised to 8 bit (what a saved image holds) before any metric.
* FID / KID (stylized photos vs reference anime; reference features cached on disk by
  :class:`~animegan.evaluation.cache.ReferenceFeatureCache`), ``lpips_content`` /
  ``lpips_diversity`` and ``identity``: defined in their modules.

Distributed: under ``torch.distributed`` each rank stylizes and embeds its shard of the photos
(``rank::world_size``), per-image results are all-gathered and re-ordered by photo index, and
every rank then computes the same values from the same ordered data, so the result equals the
single-process one up to float summation order.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from animegan.data.datasets import PhotoDataset
from animegan.data.scan import warn_skipped
from animegan.evaluation.cache import ReferenceFeatureCache
from animegan.evaluation.distributed import RowState, all_ranks_agree, distributed_rank
from animegan.evaluation.fid import FIDMetric
from animegan.evaluation.identity import FaceCrop, IdentityMetric, IdentityModel
from animegan.evaluation.inputs import (
    evenly_spaced,
    input_counts,
    inputs_from_datamodule,
    skipped_of,
)
from animegan.evaluation.lpips import LPIPSMetric, LPIPSNetwork
from animegan.evaluation.metric import Metric
from animegan.utils.images import from_uint8_image, to_uint8_image

__all__ = [
    "EvaluationResult",
    "Evaluator",
    "evenly_spaced",
    "input_counts",
    "inputs_from_datamodule",
]

log = logging.getLogger(__name__)

# Lower is better for these; the others (diversity, identity) are better when higher.
LOWER_IS_BETTER: frozenset[str] = frozenset({"fid", "kid_mean", "kid_std", "lpips_content"})


@dataclass
class EvaluationResult:
    """What one evaluation produced.

    Attributes:
        metrics: name → value (``fid``, ``kid_mean``, ``kid_std``, ``lpips_content``,
            ``lpips_diversity``, ``identity``; only the configured ones).
        per_image: one dict per photo: ``index``, ``photo`` (path), ``lpips_content``,
            ``identity`` (when computed).
        photos: uint8 [K, 3, S, S] of the first ``num_grid_images`` photos (CPU).
        fakes: uint8 [K, 3, S, S], their stylized images.
        info: protocol details: counts (``photos_found``/``_scored``/``_skipped``/
            ``_not_sampled``, and ``references_*`` when FID/KID ran), image size, extractor
            ids, cache hit, seconds.
        skipped: one dict per input left out as unusable: ``role`` (``"photo"`` or
            ``"reference"``), ``path``, ``reason``.
    """

    metrics: dict[str, float]
    per_image: list[dict[str, Any]]
    photos: Tensor
    fakes: Tensor
    info: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)


class Evaluator:
    """Stylize photos and compute FID, KID, content/diversity LPIPS and identity similarity.

    Holds the metric objects and their networks (never part of a LightningModule, so never in
    checkpoints or optimizers). A built-in metric is computed when its network is configured:
    ``fid_features`` for FID and KID (:class:`~animegan.evaluation.fid.FIDMetric`), ``lpips``
    for both LPIPS values (:class:`~animegan.evaluation.lpips.LPIPSMetric`), ``identity_model``
    for identity (:class:`~animegan.evaluation.identity.IdentityMetric`); ``extra_metrics`` adds
    any other :class:`~animegan.evaluation.metric.Metric`.

    Args:
        image_size: side S (pixels) photos and references are resized and center-cropped to.
        batch_size: images per forward pass.
        num_photos: cap on the photos evaluated (evenly spaced); ``None`` = all given.
        num_reference: cap on the reference anime images (evenly spaced); ``None`` = all given.
        fid_features: feature extractor for FID/KID (images [B, 3, H, W] in [-1, 1] →
            [B, D]) with ``num_features`` and ``extractor_id`` attributes, e.g.
            :class:`~animegan.evaluation.InceptionFeatures`; ``None`` skips FID and KID.
        kid: compute KID too (needs ``fid_features``).
        kid_subsets: KID subsets averaged.
        kid_subset_size: KID subset size (lowered to the set sizes when they are smaller).
        lpips: LPIPS network; ``None`` skips both LPIPS values.
        diversity_images: stylized images whose pairwise LPIPS gives ``lpips_diversity`` (>= 2).
        identity_model: face crops [B, 3, s, s] in [-1, 1] → embeddings [B, D]; ``None`` skips
            identity (the faces package provides ArcFace).
        face_crop: ``(photo, fake) -> (photo crops, fake crops, has_face)``; default: the whole
            image resized to 112² (aligned face photos).
        cache_dir: folder of the reference feature cache; ``None`` disables it.
        num_grid_images: photos kept (with their stylization) for grids and image tables.
        seed: KID subset sampling seed.
        num_workers: dataloader workers for decoding (0 = in the calling process).
        extra_metrics: further metric objects, updated and computed after the built-in ones
            (their names must not repeat the built-in ones).
    """

    def __init__(
        self,
        *,
        image_size: int = 256,
        batch_size: int = 16,
        num_photos: int | None = None,
        num_reference: int | None = None,
        fid_features: nn.Module | None = None,
        kid: bool = True,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        lpips: LPIPSNetwork | None = None,
        diversity_images: int = 32,
        identity_model: IdentityModel | None = None,
        face_crop: FaceCrop | None = None,
        identity_threshold: float = 0.5,
        cache_dir: str | os.PathLike[str] | None = None,
        num_grid_images: int = 8,
        seed: int = 0,
        num_workers: int = 0,
        extra_metrics: Sequence[Metric] = (),
    ) -> None:
        if image_size < 8 or batch_size < 1:
            raise ValueError(
                f"need image_size >= 8 and batch_size >= 1, got {image_size}, {batch_size}"
            )
        if diversity_images < 2:
            raise ValueError(f"diversity_images must be >= 2, got {diversity_images}")
        if fid_features is not None and not hasattr(fid_features, "extractor_id"):
            raise TypeError("fid_features needs an `extractor_id` string attribute (cache key)")
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)
        self.num_photos = num_photos
        self.num_reference = num_reference
        self.fid_features = fid_features
        self.kid_subsets = int(kid_subsets)
        self.lpips = lpips
        self.diversity_images = int(diversity_images)
        self.identity_model = identity_model
        self.cache = ReferenceFeatureCache(cache_dir)
        self.num_grid_images = int(num_grid_images)
        self.seed = int(seed)
        self.num_workers = int(num_workers)
        self.fid = (
            None
            if fid_features is None
            else FIDMetric(
                fid_features,
                kid=kid,
                kid_subsets=kid_subsets,
                kid_subset_size=kid_subset_size,
                seed=seed,
            )
        )
        built_in: list[Metric | None] = [
            self.fid,
            None
            if lpips is None
            else LPIPSMetric(
                lpips,
                image_size=image_size,
                diversity_images=diversity_images,
                batch_size=batch_size,
            ),
            None
            if identity_model is None
            else IdentityMetric(identity_model, face_crop=face_crop, threshold=identity_threshold),
        ]
        self.metrics: list[Metric] = [m for m in built_in if m is not None] + list(extra_metrics)
        self._warned: set[tuple[str, tuple[tuple[Path, str], ...]]] = set()

    # ---------------------------------------------------------------------------- helpers
    def describe(self) -> dict[str, Any]:
        """The protocol as plain values (logged with every result)."""
        return {
            "image_size": self.image_size,
            "fid_features": getattr(self.fid_features, "extractor_id", None),
            "lpips": getattr(self.lpips, "extractor_id", None),
            "identity": None if self.identity_model is None else type(self.identity_model).__name__,
            "kid_subsets": self.kid_subsets,
            "diversity_images": self.diversity_images,
        }

    def to(self, device: torch.device | str) -> Evaluator:
        """Move the metric networks to ``device``; returns ``self``."""
        for metric in self.metrics:
            metric.to(device)
        return self

    def _batches(
        self, paths: Sequence[Path], indices: Sequence[int], device: torch.device
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield ``(global indices [b], images [b, 3, S, S] in [-1, 1])`` for ``paths[indices]``."""
        dataset = PhotoDataset([paths[i] for i in indices], self.image_size)
        # An own generator: a DataLoader otherwise draws its base seed from the global RNG, and an
        # evaluation during training would shift the training run's random stream.
        loader = DataLoader(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),
        )
        lookup = torch.tensor(list(indices), dtype=torch.long)
        for batch in loader:
            yield lookup[batch["index"]].to(device), batch["photo"].to(device)

    @torch.no_grad()
    def reference_features(
        self, reference_paths: Sequence[Path], device: torch.device | str = "cpu"
    ) -> tuple[Tensor, bool]:
        """Features [N, D] of the reference images, from the cache or computed (and cached).

        Under ``torch.distributed`` every rank must call this (it is collective).

        Args:
            reference_paths: the (already capped) reference images, in order.
            device: where the extractor runs.

        Returns:
            ``(features float32 [N, D] on CPU, cache_hit)``.
        """
        if self.fid_features is None:
            raise ValueError("no fid_features configured")
        device = torch.device(device)
        rank, world = distributed_rank()
        key = self.cache.key(reference_paths, self.image_size, self.fid_features.extractor_id)
        cached = self.cache.load(key)
        usable = cached is not None and cached.shape[0] == len(reference_paths)
        # Decide together: a rank that misses while another hits would leave the collectives
        # below unmatched.
        if all_ranks_agree(usable, device):
            assert cached is not None
            return cached, True
        self.fid_features.to(device)
        rows = RowState((int(self.fid_features.num_features),))
        shard = list(range(rank, len(reference_paths), world))
        for index, images in self._batches(reference_paths, shard, device):
            rows.append(index, self.fid_features(images).float())
        features = rows.gather(device)
        if rank == 0:
            path = self.cache.save(key, features, self.fid_features.extractor_id)
            if path is not None:
                log.info("reference features cached in %s", path)
        return features, False

    # ------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(
        self,
        generator: nn.Module,
        photo_paths: Sequence[str | os.PathLike[str]],
        reference_paths: Sequence[str | os.PathLike[str]] = (),
        *,
        device: torch.device | str | None = None,
        skipped_photos: Sequence[tuple[str | os.PathLike[str], str]] | None = None,
        skipped_references: Sequence[tuple[str | os.PathLike[str], str]] | None = None,
    ) -> EvaluationResult:
        """Stylize ``photo_paths`` with ``generator`` and compute every configured metric.

        Args:
            generator: photo → anime network, RGB [-1, 1] in and out; put in eval mode for the
                call and restored afterwards.
            photo_paths: photos to stylize (capped to ``num_photos``, evenly spaced); the
                ``paths`` of :func:`~animegan.data.scan.scan_image_folder` carry the files
                the scan left out, which are then reported.
            reference_paths: anime images FID/KID compare against (capped to
                ``num_reference``); may be empty when no ``fid_features`` are configured.
            device: where networks run; default: the generator's device.
            skipped_photos: ``(path, reason)`` of photos left out before the call; default:
                ``photo_paths.skipped`` when present, else none.
            skipped_references: the same for the reference images.

        Returns:
            :class:`EvaluationResult` with identical values on every rank; every skipped input
            is in its ``skipped`` list and counts, and logged once in a warning (rank 0).
        """
        started = time.perf_counter()
        photo_skips = skipped_of(photo_paths, skipped_photos)
        reference_skips = skipped_of(reference_paths, skipped_references)
        if device is None:
            parameter = next(generator.parameters(), None)
            device = parameter.device if parameter is not None else torch.device("cpu")
        device = torch.device(device)
        photos_all = evenly_spaced([Path(p) for p in photo_paths], self.num_photos)
        references = evenly_spaced([Path(p) for p in reference_paths], self.num_reference)
        if not photos_all:
            raise ValueError("no photos to evaluate")
        if self.fid_features is not None and len(references) < 2:
            raise ValueError(
                f"FID/KID need at least 2 reference anime images, got {len(references)}: set the "
                "reference folder (anime_dir / reference_dir) or use metrics without fid_features"
            )
        self.to(device)
        rank, world = distributed_rank()
        size = self.image_size
        grid_photos = RowState((3, size, size), dtype=torch.uint8)
        grid_fakes = RowState((3, size, size), dtype=torch.uint8)
        for metric in self.metrics:
            metric.reset()
        was_training = generator.training
        generator.eval()
        try:
            shard = list(range(rank, len(photos_all), world))
            for index, photo in self._batches(photos_all, shard, device):
                fake_uint8 = to_uint8_image(generator(photo))
                fake = from_uint8_image(fake_uint8)  # what a saved 8-bit image holds
                for metric in self.metrics:
                    metric.update(photo, fake, index)
                kept = index < self.num_grid_images
                grid_photos.append(index[kept], to_uint8_image(photo[kept]))
                grid_fakes.append(index[kept], fake_uint8[kept])
        finally:
            generator.train(was_training)

        info: dict[str, Any] = {**self.describe(), "num_photos": len(photos_all)}
        info |= input_counts("photos", photo_paths, photos_all, photo_skips)
        skipped = [{"role": "photo", "path": str(p), "reason": r} for p, r in photo_skips]
        if self.fid is not None:
            info |= input_counts("references", reference_paths, references, reference_skips)
            skipped += [
                {"role": "reference", "path": str(p), "reason": r} for p, r in reference_skips
            ]
        if rank == 0:
            self._warn_skipped(photo_skips, "the evaluated photos")
            if self.fid is not None:
                self._warn_skipped(reference_skips, "the FID/KID reference images")
        for metric in self.metrics:
            metric.sync(device)
        if self.fid is not None:
            self.fid.set_reference(*self.reference_features(references, device))
        metrics: dict[str, float] = {}
        per_image: list[dict[str, Any]] = [
            {"index": i, "photo": str(path)} for i, path in enumerate(photos_all)
        ]
        for metric in self.metrics:
            values = metric.compute()
            metrics |= values.metrics
            info |= values.info
            for name, column in values.per_image.items():
                for row, value in zip(per_image, column, strict=True):
                    row[name] = value
        info["seconds"] = round(time.perf_counter() - started, 3)
        info["world_size"] = world
        return EvaluationResult(
            metrics=metrics,
            per_image=per_image,
            photos=grid_photos.gather(device)[: self.num_grid_images],
            fakes=grid_fakes.gather(device)[: self.num_grid_images],
            info=info,
            skipped=skipped,
        )

    def _warn_skipped(self, skips: list[tuple[Path, str]], what: str) -> None:
        """Log one warning per distinct list of skipped files.

        ``make compare`` evaluates the same photos once per checkpoint; the list is logged once.
        """
        key = (what, tuple(skips))
        if not skips or key in self._warned:
            return
        self._warned.add(key)
        warn_skipped(skips, log, left_out_of=what)
