"""The stylisation pipeline: any image size, tiles with consistent statistics, blending, files.

One image goes through:

1. ``strength == 0``: the photo is returned unchanged (the generator does not run).
2. Photos with a side below the generator's minimum (8 pixels; 16 for the lite generator) are
   edge-padded to it, and the padding is cropped off afterwards.
3. If the photo fits in one tile it is stylised in one call. Otherwise a statistics pass runs
   the generator once on a copy downscaled to at most ``tile * tile`` pixels and keeps its
   layer-norm statistics; then every overlapping tile is stylised with those statistics and
   blended with raised-cosine windows (:mod:`animegan.inference.tiling`). Peak memory follows
   the tile size: the generator never sees more than ``tile * tile`` pixels (plus < 4 rows and
   columns of grid rounding).
4. Optional post-processing of the whole stylised image (bilateral, gray-world, unsharp mask,
   brightness matching to the photo's mean luma), after the tiles are assembled.
5. Strength blending with the photo: ``strength * stylized + (1 - strength) * photo``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from animegan.data.decode import ImageDecodeError
from animegan.inference.backends import OnnxBackend, StylizeBackend, TorchBackend
from animegan.inference.image_io import InputItem, read_photo, write_image
from animegan.inference.postprocess import PostProcess, apply_postprocess, blend_strength
from animegan.inference.tiling import MIN_SIDE, TILE_ALIGN, tiled_apply
from animegan.utils.images import from_uint8_image, to_uint8_image

__all__ = [
    "BatchReport",
    "Stylizer",
    "build_backend",
    "photo_to_input",
    "output_to_uint8",
    "stylize_files",
]

log = logging.getLogger(__name__)

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64


def photo_to_input(photo: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB -> ``[1, 3, H, W]`` float32 in [-1, 1] (0 -> -1, 255 -> 1)."""
    return np.ascontiguousarray(from_uint8_image(photo).transpose(2, 0, 1)[None])


def output_to_uint8(fake_anime: np.ndarray) -> np.ndarray:
    """``[..., 3]`` float in [-1, 1] -> uint8 ``round((x + 1) * 127.5)``, clipped to 0..255."""
    return to_uint8_image(fake_anime)


def _stats_copy(photo: np.ndarray, max_pixels: int, min_side: int = MIN_SIDE) -> np.ndarray:
    """Area-downscale so that ``h * w <= max_pixels`` (aspect kept, sides >= ``min_side``)."""
    height, width = photo.shape[:2]
    scale = min(1.0, (max_pixels / float(height * width)) ** 0.5)
    if scale >= 1.0:
        return photo
    size = (max(min_side, round(width * scale)), max(min_side, round(height * scale)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA)


class Stylizer:
    """Stylise uint8 RGB images of any size with a backend.

    The generator's smallest input side and tile alignment come from the backend's
    ``min_side``/``tile_align`` attributes (8/4 when it has none: the full generator; 16/8 for
    the lite one).

    Args:
        backend: a :class:`~animegan.inference.backends.StylizeBackend`.
        tile: tile side in pixels (>= ``min_side`` and >= ``2 * tile_align``); images with
            both sides <= ``tile`` run in one call.
            Bigger tiles are faster per pixel and closer to the whole-image result but need
            more memory (measured at 512: ~0.55 GB per call on CPU fp32, ~0.27 GB INT8).
        overlap: pixels shared by neighbouring tiles (< ``tile``), also the blend ramp length.
        strength: style strength in [0, 1] (0 = the photo, 1 = the stylised image).
        post: post-processing steps applied to the stylised image before strength blending.
        stats_pixels: pixel budget of the statistics pass of a tiled image (the photo is
            area-downscaled to at most this many pixels); default ``tile * tile``, so the pass
            needs no more memory than one tile.
    """

    def __init__(
        self,
        backend: StylizeBackend,
        *,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        strength: float = 1.0,
        post: PostProcess | None = None,
        stats_pixels: int | None = None,
    ) -> None:
        self.min_side = int(getattr(backend, "min_side", MIN_SIDE))
        self.tile_align = int(getattr(backend, "tile_align", TILE_ALIGN))
        smallest_tile = max(self.min_side, 2 * self.tile_align)
        if tile < smallest_tile:
            raise ValueError(
                f"tile must be at least {smallest_tile} pixels for this generator, got {tile}"
            )
        if not 0 <= overlap < tile:
            raise ValueError(f"overlap must be in [0, tile), got {overlap} with tile {tile}")
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        self.backend = backend
        self.tile = tile
        self.overlap = overlap
        self.strength = strength
        self.post = post or PostProcess()
        self.stats_pixels = stats_pixels or tile * tile
        self._warned_per_tile = False

    def _run(self, photo: np.ndarray, norm_stats: np.ndarray | None) -> np.ndarray:
        fake_anime, _ = self.backend(photo_to_input(photo), norm_stats, return_stats=False)
        return fake_anime[0].transpose(1, 2, 0)  # [h, w, 3] in [-1, 1]

    def generate(
        self,
        photo: np.ndarray,
        on_tile: Callable[[], None] | None = None,
        *,
        stats_filter: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        """Run the generator on a photo of any size, tiling when it does not fit.

        Args:
            photo: ``[H, W, 3]`` uint8 RGB, H, W >= 1.
            on_tile: called after each generator call on a tile (progress).
            stats_filter: maps the whole-image statistics ``[1, L, 2]`` of a tiled photo to
                the ones its tiles use (video smoothing across frames); identity if None.

        Returns:
            ``[H, W, 3]`` uint8 RGB, the raw stylised image (no post-processing, no blending).
        """
        height, width = photo.shape[:2]
        pad_h, pad_w = max(0, self.min_side - height), max(0, self.min_side - width)
        if pad_h or pad_w:
            photo = np.pad(photo, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        if photo.shape[0] <= self.tile and photo.shape[1] <= self.tile:
            stylized = output_to_uint8(self._run(photo, None))
            if on_tile is not None:
                on_tile()
        else:
            norm_stats = None
            if self.backend.supports_norm_stats:
                small = _stats_copy(photo, self.stats_pixels, self.min_side)
                _, norm_stats = self.backend(photo_to_input(small), None)
                if stats_filter is not None:
                    norm_stats = stats_filter(norm_stats)
            elif not self._warned_per_tile:
                log.warning(
                    "backend %s cannot take external normalisation statistics: each tile is "
                    "normalised on its own, so tiles of large images may differ in tone. "
                    "Re-export the model with `animegan export` to fix this.",
                    self.backend.name,
                )
                self._warned_per_tile = True
            stylized = tiled_apply(
                photo,
                lambda tile_photo: self._run(tile_photo, norm_stats),
                tile=self.tile,
                overlap=self.overlap,
                finish=lambda band, _top, _bottom: output_to_uint8(band),
                on_tile=on_tile,
                align=self.tile_align,
            )
        return stylized[:height, :width]

    def __call__(self, photo: np.ndarray, on_tile: Callable[[], None] | None = None) -> np.ndarray:
        """Stylise a photo: generate, post-process, blend with the photo by ``strength``.

        Args:
            photo: ``[H, W, 3]`` uint8 RGB.
            on_tile: called after each generator call on a tile (progress).

        Returns:
            ``[H, W, 3]`` uint8 RGB; an exact copy of ``photo`` when ``strength == 0``.
        """
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
            raise ValueError(f"photo must be [H, W, 3] uint8, got {photo.dtype} {photo.shape}")
        if self.strength == 0.0:
            return photo.copy()
        return self.finish(photo, self.generate(photo, on_tile))

    def finish(self, photo: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """Post-process a raw stylised image and blend it with its photo by ``strength``.

        Args:
            photo: ``[H, W, 3]`` uint8 RGB, the input.
            stylized: ``[H, W, 3]`` uint8 RGB from :meth:`generate` (or a batched run).

        Returns:
            ``[H, W, 3]`` uint8 RGB.
        """
        return blend_strength(
            photo, apply_postprocess(stylized, self.post, photo=photo), self.strength
        )


def build_backend(
    weights: str | os.PathLike[str],
    *,
    backend: str = "auto",
    device: str = "cpu",
    prefix: str = "generator.",
    threads: int | None = None,
    graph_optimization_level: str = "all",
) -> StylizeBackend:
    """Build a backend from a weight file.

    Args:
        weights: a generator ``.pt`` (animegan2-pytorch format), a training checkpoint of this
            repository, an ``.onnx`` model written by ``animegan export``, or a published
            name (:data:`animegan.models.registry.PUBLISHED_WEIGHTS`).
        backend: ``"torch"``, ``"onnx"`` or ``"auto"`` (onnx for ``.onnx`` files, else torch).
            ``"onnx"`` with PyTorch weights exports a temporary ONNX model first.
        device: PyTorch device (torch backend only).
        prefix: key prefix of the generator inside a training checkpoint.
        threads: onnxruntime intra-op threads (onnx backend); ``None`` = all cores.
        graph_optimization_level: onnxruntime graph optimisation level.

    Returns:
        A ready backend.
    """
    from animegan.models import load_generator
    from animegan.models.registry import resolve_weights

    weights = resolve_weights(weights)  # a published name (downloaded once) or the path
    is_onnx = weights.suffix.lower() == ".onnx"
    if backend == "auto":
        backend = "onnx" if is_onnx else "torch"
    if backend == "torch":
        if is_onnx:
            raise ValueError(
                f"{weights} is an ONNX model; use --backend onnx, or pass PyTorch weights "
                f"(.pt / .ckpt) for --backend torch."
            )
        return TorchBackend(load_generator(weights, prefix=prefix), device=device)
    if backend != "onnx":
        raise ValueError(f"backend must be 'torch', 'onnx' or 'auto', got {backend!r}")
    tmp_dir = None
    if not is_onnx:
        import tempfile

        from animegan.export.onnx import export_onnx

        generator = load_generator(weights, prefix=prefix)
        tmp_dir = Path(tempfile.mkdtemp(prefix="animegan-onnx-"))
        weights = export_onnx(generator, tmp_dir / "generator.onnx")
        log.info("exported the generator to a temporary ONNX model %s", weights)
    onnx_backend = OnnxBackend(
        weights, intra_op_threads=threads, graph_optimization_level=graph_optimization_level
    )
    if tmp_dir is not None:
        import shutil
        import weakref

        # The session has read the file; remove it when the backend goes away.
        weakref.finalize(onnx_backend, shutil.rmtree, tmp_dir, True)
    return onnx_backend


@dataclass
class BatchReport:
    """Outcome of :func:`stylize_files`.

    Attributes:
        written: output files written.
        existing: ``(input, output)`` pairs skipped because the output exists.
        failed: ``(input, reason)`` for inputs that could not be read or processed.
        alpha_dropped: inputs whose transparency was composited over white.
    """

    written: list[Path] = field(default_factory=list)
    existing: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    alpha_dropped: list[Path] = field(default_factory=list)


def stylize_files(
    items: Sequence[InputItem],
    stylizer: Stylizer,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    keep_alpha: bool = False,
    progress: bool = True,
) -> BatchReport:
    """Stylise files into a folder, keeping their names; one bad file never stops the batch.

    Args:
        items: inputs from :func:`animegan.inference.image_io.collect_inputs`.
        stylizer: the configured :class:`Stylizer`.
        out_dir: output folder (created); output ``i`` is ``out_dir / items[i].relative``.
        overwrite: replace existing outputs; otherwise they are skipped and reported. An
            output that would be its own input is never written.
        keep_alpha: keep the alpha channel of inputs that have one (else it is composited over
            white and dropped, and the input is listed in ``alpha_dropped``).
        progress: show a tqdm progress bar.

    Returns:
        :class:`BatchReport`.
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir).expanduser()
    report = BatchReport()
    bar = tqdm(items, desc="stylize", unit="img", disable=not progress)
    for item in bar:
        target = out_dir / item.relative
        if target.exists() and target.resolve() == item.path.resolve():
            report.failed.append(
                (item.path, "output would replace the input; choose another --out")
            )
            continue
        if target.exists() and not overwrite:
            report.existing.append((item.path, target))
            continue
        try:
            decoded = read_photo(item.path, keep_alpha=keep_alpha)
            label = f"{item.path.name} {decoded.rgb.shape[1]}x{decoded.rgb.shape[0]}"
            bar.set_postfix_str(label)
            tiles_done = [0]

            def on_tile(label: str = label, tiles_done: list[int] = tiles_done) -> None:
                tiles_done[0] += 1
                bar.set_postfix_str(f"{label} tile {tiles_done[0]}")

            stylized = stylizer(decoded.rgb, on_tile=on_tile if progress else None)
            write_image(
                target,
                stylized,
                alpha=decoded.alpha,
                icc_profile=decoded.icc_profile,
                overwrite=overwrite,
            )
        # MemoryError/RuntimeError: one huge or odd image (e.g. out of memory) must not stop
        # the rest of the batch.
        except (ImageDecodeError, OSError, ValueError, MemoryError, RuntimeError) as error:
            report.failed.append((item.path, str(error)))
            log.warning("skipped %s: %s", item.path, error)
            continue
        if decoded.had_alpha and decoded.alpha is None:
            report.alpha_dropped.append(item.path)
        report.written.append(target)
    bar.close()
    return report
