"""One evaluation procedure shared by the training callback and ``make eval``.

:class:`Evaluator` stylizes a list of photos with a generator and computes every configured metric
against a list of reference anime images. The training callback and ``cli/eval.py`` both call
:meth:`Evaluator.evaluate` with the same inputs, so a value logged during training equals the one
``make eval`` reports for the same checkpoint (DESIGN.md §4).

Protocol (fixed here, set in ``conf/metrics/*.yaml``):

* Inputs: photos and reference anime are decoded, resized so the shorter side is ``image_size``
  and center-cropped to ``image_size``² (the validation transform of the datamodule).
  ``num_photos`` / ``num_reference`` cap the counts by taking evenly spaced files of the sorted
  lists (deterministic, spread over the whole set). Files the folder scan left out (undecodable,
  above the pixel limit, dangling links, folders named like images) are never dropped silently:
  they are logged in one warning and recorded with their reasons in the result (``skipped``) and
  its counts (``info``: ``photos_found``, ``photos_scored``, ``photos_skipped``, ...).
* Stylized images are quantised to 8 bit (what a saved image holds) before any metric.
* FID / KID: stylized photos vs reference anime, features of the configured extractor; reference
  features are cached on disk (:class:`~animegan.evaluation.metrics.ReferenceFeatureCache`).
* ``lpips_content``: mean LPIPS between each photo and its stylized image (lower = content kept).
* ``lpips_diversity``: mean pairwise LPIPS among the first ``diversity_images`` stylized images
  (higher = outputs differ more from each other).
* ``identity``: mean cosine similarity of face embeddings of photo and stylized image, when an
  ``identity_model`` is configured (NaN-free mean over images with a face).

Distributed: under ``torch.distributed`` each rank stylizes and embeds its shard of the photos
(``rank::world_size``), per-image results are all-gathered and re-ordered by photo index, and
every rank then computes the same values from the same ordered data, so the result equals the
single-process one up to float summation order.
"""

from __future__ import annotations

import logging
import math
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
from animegan.data.decode import warn_skipped
from animegan.evaluation.metrics import (
    FaceCrop,
    IdentityModel,
    LPIPSNetwork,
    ReferenceFeatureCache,
    diversity_lpips,
    frechet_distance,
    identity_similarity,
    kernel_inception_distance,
)
from animegan.faces.identity_metric import summarize_cosines
from animegan.utils.images import to_uint8_image

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


def evenly_spaced(paths: Sequence[Path], count: int | None) -> list[Path]:
    """``count`` items spread evenly over ``paths`` (all of them when ``count`` is None or larger).

    Args:
        paths: sorted file list.
        count: how many to keep (>= 1) or ``None``.

    Returns:
        ``[paths[i * len(paths) // count] for i in range(count)]``, in order.
    """
    paths = list(paths)
    if count is None or count >= len(paths):
        return paths
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return [paths[i * len(paths) // count] for i in range(count)]


def inputs_from_datamodule(
    datamodule: Any, reference_dir: str | os.PathLike[str] | None = None
) -> tuple[list[Path], list[Path]]:
    """The photos and reference anime images a training run evaluates on.

    Args:
        datamodule: an :class:`~animegan.data.AnimeGANDataModule` (set up on demand).
        reference_dir: folder of held-out anime images; ``None`` uses the training anime images.

    Returns:
        ``(photo_paths, reference_paths)``: the fixed validation subset and the anime references.
    """
    from animegan.data.decode import DEFAULT_MAX_PIXELS, ImagePaths, scan_image_folder

    if getattr(datamodule, "layout", None) is None:
        datamodule.setup("fit")
    photos = list(getattr(datamodule, "val_photos", []))
    if not photos:
        raise ValueError("the datamodule has no validation photos to evaluate")
    scans = getattr(datamodule, "scans", {})
    # The scan the validation photos were drawn from: what it left out is reported with them.
    source = scans.get("val") or scans.get("photo")
    if source is not None:
        photos = ImagePaths(
            photos, folder=source.folder, skipped=source.skipped, found=source.found
        )
    if reference_dir is not None:
        references = scan_image_folder(
            reference_dir,
            getattr(datamodule, "cache_dir", None),
            role="reference anime images",
            max_pixels=getattr(datamodule, "max_pixels", DEFAULT_MAX_PIXELS),
        ).paths
    else:
        references = datamodule.scans["anime"].paths
    return photos, references


def _skipped_of(paths: Sequence[Any], given: Sequence[tuple[Any, str]] | None) -> list:
    if given is not None:
        return [(Path(path), str(reason)) for path, reason in given]
    return [(Path(path), str(reason)) for path, reason in getattr(paths, "skipped", ())]


def input_counts(
    role: str, given: Sequence[Any], used: Sequence[Any], skipped: Sequence[Any]
) -> dict[str, int]:
    """How many inputs of one kind were found, used, skipped and left out by the cap.

    Args:
        role: key prefix, ``"photos"`` or ``"references"``.
        given: the usable paths passed in (an :class:`~animegan.data.decode.ImagePaths` also
            knows how many entries its folder held).
        used: the paths actually evaluated (after ``num_photos``/``num_reference``).
        skipped: ``(path, reason)`` of the entries left out as unusable.

    Returns:
        ``{role}_found`` (entries considered), ``{role}_scored`` (or ``_used`` for references),
        ``{role}_skipped`` and ``{role}_not_sampled`` (usable, left out by the cap or by the
        fixed validation subset).
    """
    found = int(getattr(given, "found", len(given) + len(skipped)))
    used_key = "scored" if role == "photos" else "used"
    return {
        f"{role}_found": found,
        f"{role}_{used_key}": len(used),
        f"{role}_skipped": len(skipped),
        f"{role}_not_sampled": max(found - len(skipped) - len(used), 0),
    }


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


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _all_gather_rows(rows: Tensor) -> Tensor:
    """Concatenate every rank's ``rows`` [n_r, ...] along dim 0 (n_r may differ, even be 0)."""
    _, world = _distributed()
    if world == 1:
        return rows
    count = torch.tensor([rows.shape[0]], device=rows.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    torch.distributed.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    padded = rows.new_zeros((max(max(sizes), 1), *rows.shape[1:]))
    padded[: rows.shape[0]] = rows
    gathered = [torch.empty_like(padded) for _ in range(world)]
    torch.distributed.all_gather(gathered, padded)
    return torch.cat([part[:size] for part, size in zip(gathered, sizes, strict=True)])


def _all_ranks_agree(flag: bool, device: torch.device) -> bool:
    _, world = _distributed()
    if world == 1:
        return flag
    value = torch.tensor([int(flag)], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MIN)
    return bool(value.item())


def _to_float(images_uint8: Tensor) -> Tensor:
    return images_uint8.float() / 127.5 - 1.0


class Evaluator:
    """Stylize photos and compute FID, KID, content/diversity LPIPS and identity similarity.

    Holds the metric networks (never part of a LightningModule, so never in checkpoints or
    optimizers). A metric is computed when its network is configured: ``fid_features`` for FID and
    KID, ``lpips`` for both LPIPS values, ``identity_model`` for identity.

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
        self.kid = kid
        self.kid_subsets = int(kid_subsets)
        self.kid_subset_size = int(kid_subset_size)
        self.lpips = lpips
        self.diversity_images = int(diversity_images)
        self.identity_model = identity_model
        self.face_crop = face_crop
        self.identity_threshold = float(identity_threshold)
        self.cache = ReferenceFeatureCache(cache_dir)
        self.num_grid_images = int(num_grid_images)
        self.seed = int(seed)
        self.num_workers = int(num_workers)
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
        for network in (self.fid_features, self.lpips, self.identity_model):
            if isinstance(network, nn.Module):
                network.to(device)
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

    @staticmethod
    def _gather_sorted(parts: list[Tensor], index_parts: list[Tensor], empty: Tensor) -> Tensor:
        """All ranks' rows of ``parts``, ordered by their global index (returned on CPU).

        ``empty`` ([0, ...] with the row shape and dtype) stands in for a rank with no rows, so
        every rank enters the collectives with tensors of the same trailing shape.
        """
        values = torch.cat(parts) if parts else empty
        index = torch.cat(index_parts) if index_parts else empty.new_zeros(0, dtype=torch.long)
        index, values = _all_gather_rows(index), _all_gather_rows(values)
        return values[torch.argsort(index)].cpu()

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
        rank, world = _distributed()
        key = self.cache.key(reference_paths, self.image_size, self.fid_features.extractor_id)
        cached = self.cache.load(key)
        usable = cached is not None and cached.shape[0] == len(reference_paths)
        # Decide together: a rank that misses while another hits would leave the collectives
        # below unmatched.
        if _all_ranks_agree(usable, device):
            assert cached is not None
            return cached, True
        self.fid_features.to(device)
        index_parts: list[Tensor] = []
        feature_parts: list[Tensor] = []
        shard = list(range(rank, len(reference_paths), world))
        for index, images in self._batches(reference_paths, shard, device):
            index_parts.append(index)
            feature_parts.append(self.fid_features(images).float())
        empty = torch.zeros(0, int(self.fid_features.num_features), device=device)
        features = self._gather_sorted(feature_parts, index_parts, empty)
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
                ``paths`` of :func:`~animegan.data.decode.scan_image_folder` carry the files
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
        photo_skips = _skipped_of(photo_paths, skipped_photos)
        reference_skips = _skipped_of(reference_paths, skipped_references)
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
        rank, world = _distributed()
        keep = max(self.num_grid_images, self.diversity_images if self.lpips is not None else 0)

        size = self.image_size
        empty = {
            "features": torch.zeros(0, int(getattr(self.fid_features, "num_features", 0))),
            "lpips": torch.zeros(0),
            "identity": torch.zeros(0),
            "photo": torch.zeros(0, 3, size, size, dtype=torch.uint8),
            "fake": torch.zeros(0, 3, size, size, dtype=torch.uint8),
        }
        parts: dict[str, list[Tensor]] = {name: [] for name in [*empty, "index", "kept_index"]}
        was_training = generator.training
        generator.eval()
        try:
            shard = list(range(rank, len(photos_all), world))
            for index, photo in self._batches(photos_all, shard, device):
                fake_uint8 = to_uint8_image(generator(photo))
                fake = _to_float(fake_uint8)
                parts["index"].append(index)
                if self.fid_features is not None:
                    parts["features"].append(self.fid_features(fake).float())
                if self.lpips is not None:
                    parts["lpips"].append(self.lpips(photo, fake).float())
                if self.identity_model is not None:
                    parts["identity"].append(
                        identity_similarity(self.identity_model, photo, fake, self.face_crop)
                    )
                kept = index < keep
                parts["kept_index"].append(index[kept])
                parts["photo"].append(to_uint8_image(photo[kept]))
                parts["fake"].append(fake_uint8[kept])
        finally:
            generator.train(was_training)

        def gathered(name: str) -> Tensor:
            order = parts["kept_index"] if name in ("photo", "fake") else parts["index"]
            return self._gather_sorted(parts[name], order, empty[name].to(device))

        metrics: dict[str, float] = {}
        info: dict[str, Any] = {**self.describe(), "num_photos": len(photos_all)}
        info |= input_counts("photos", photo_paths, photos_all, photo_skips)
        skipped = [{"role": "photo", "path": str(p), "reason": r} for p, r in photo_skips]
        if self.fid_features is not None:
            info |= input_counts("references", reference_paths, references, reference_skips)
            skipped += [
                {"role": "reference", "path": str(p), "reason": r} for p, r in reference_skips
            ]
        if rank == 0:
            self._warn_skipped(photo_skips, "the evaluated photos")
            if self.fid_features is not None:
                self._warn_skipped(reference_skips, "the FID/KID reference images")
        if self.fid_features is not None:
            fake_features = gathered("features")
            real_features, cache_hit = self.reference_features(references, device)
            info |= {"num_reference": len(references), "reference_cache_hit": cache_hit}
            metrics["fid"] = frechet_distance(real_features, fake_features)
            if self.kid:
                kid_mean, kid_std, subset_size = kernel_inception_distance(
                    real_features,
                    fake_features,
                    subsets=self.kid_subsets,
                    subset_size=self.kid_subset_size,
                    seed=self.seed,
                )
                metrics |= {"kid_mean": kid_mean, "kid_std": kid_std}
                info["kid_subset_size"] = subset_size
        kept_photos = gathered("photo")
        kept_fakes = gathered("fake")
        per_image: list[dict[str, Any]] = [
            {"index": i, "photo": str(path)} for i, path in enumerate(photos_all)
        ]
        if self.lpips is not None:
            content = gathered("lpips")
            metrics["lpips_content"] = float(content.double().mean())
            for row, value in zip(per_image, content.tolist(), strict=True):
                row["lpips_content"] = value
            diverse = kept_fakes[: self.diversity_images]
            if diverse.shape[0] >= 2:
                metrics["lpips_diversity"] = diversity_lpips(
                    self.lpips, _to_float(diverse.to(device)), self.batch_size
                )
                info["diversity_images"] = int(diverse.shape[0])
        if self.identity_model is not None:
            identity = gathered("identity")
            valid = identity[~torch.isnan(identity)]
            metrics["identity"] = float(valid.double().mean()) if valid.numel() else math.nan
            # Distribution: the mean hides the few faces that deform; report the tail too.
            stats = summarize_cosines(valid, threshold=self.identity_threshold)
            metrics["identity_p05"] = stats.quantiles["p05"]
            metrics["identity_median"] = stats.quantiles["median"]
            metrics["identity_share_below"] = stats.share_below
            info["identity_faces"] = int(valid.numel())
            info["identity_threshold"] = self.identity_threshold
            for row, value in zip(per_image, identity.tolist(), strict=True):
                row["identity"] = value
        info["seconds"] = round(time.perf_counter() - started, 3)
        info["world_size"] = world
        return EvaluationResult(
            metrics=metrics,
            per_image=per_image,
            photos=kept_photos[: self.num_grid_images],
            fakes=kept_fakes[: self.num_grid_images],
            info=info,
            skipped=skipped,
        )

    def _warn_skipped(self, skips: list[tuple[Path, str]], what: str) -> None:
        """One warning per distinct list of skipped files (``make compare`` evaluates the same
        photos once per checkpoint; the list is logged once)."""
        key = (what, tuple(skips))
        if not skips or key in self._warned:
            return
        self._warned.add(key)
        warn_skipped(skips, log, left_out_of=what)
