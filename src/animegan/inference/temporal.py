"""Temporal stability for video: layer-norm statistics smoothed across frames, reset at cuts.

Each frame normalised by its own layer-norm statistics flickers, because those statistics jump
from frame to frame. :class:`TemporalNormSmoother` keeps an exponential moving average of the
statistics the generator computed on previous frames and feeds it as external statistics (the
same machinery that keeps tiles of one photo consistent, :mod:`animegan.inference.norm_stats`),
and resets at scene cuts, found by the change of the colour histogram of a small thumbnail.
:class:`VideoFrameStylizer` runs batches of frames through a
:class:`~animegan.inference.pipeline.Stylizer` with that smoothing.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from animegan.inference.pipeline import Stylizer, output_to_uint8, photo_to_input

__all__ = [
    "DEFAULT_CUT_THRESHOLD",
    "DEFAULT_MOMENTUM",
    "TemporalNormSmoother",
    "VideoFrameStylizer",
    "histogram_change",
    "thumbnail_histogram",
]

log = logging.getLogger(__name__)

DEFAULT_MOMENTUM = 0.8  # weight of the past in the statistics average (~5-frame memory)
DEFAULT_CUT_THRESHOLD = 0.35  # histogram change in [0, 1] above which a frame starts a scene


def histogram_change(previous: np.ndarray | None, current: np.ndarray) -> float:
    """Scene-change score of two thumbnails' colour histograms.

    Args:
        previous: normalised histogram from :func:`thumbnail_histogram`, or None.
        current: the same for the current frame.

    Returns:
        Half the L1 distance of the histograms averaged over channels, in [0, 1]: 0 for the
        same colour distribution (camera motion barely changes it), 1 for disjoint ones.
    """
    if previous is None:
        return 1.0
    return float(np.abs(previous - current).sum() / (2.0 * current.shape[0]))


def thumbnail_histogram(frame: np.ndarray, bins: int = 16) -> np.ndarray:
    """``[3, bins]`` per-channel histogram of a 64-pixel-wide thumbnail, each row summing to 1."""
    height, width = frame.shape[:2]
    small = cv2.resize(frame, (64, max(1, round(64 * height / width))), interpolation=cv2.INTER_AREA)
    hist = np.stack(
        [np.bincount(small[..., c].ravel().astype(np.int64) * bins // 256, minlength=bins)
         for c in range(3)]
    ).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


class TemporalNormSmoother:
    """Exponential moving average of layer-norm statistics across frames, reset at cuts.

    Args:
        momentum: weight of the past in ``avg = momentum * avg + (1 - momentum) * new``, in
            [0, 1); 0 disables smoothing (every frame uses its own statistics).
        cut_threshold: :func:`histogram_change` above which a frame starts a new scene, in
            (0, 1]; the average is then dropped and the frame uses its own statistics.
    """

    def __init__(
        self, momentum: float = DEFAULT_MOMENTUM, cut_threshold: float = DEFAULT_CUT_THRESHOLD
    ) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not 0.0 < cut_threshold <= 1.0:
            raise ValueError(f"cut threshold must be in (0, 1], got {cut_threshold}")
        self.momentum = momentum
        self.cut_threshold = cut_threshold
        self.average: np.ndarray | None = None  # [1, L, 2]
        self._histogram: np.ndarray | None = None
        self.cuts = 0

    def observe(self, frame: np.ndarray) -> bool:
        """Look at the next input frame; True when it starts a scene (see :meth:`new_scene`)."""
        histogram = thumbnail_histogram(frame)
        cut = histogram_change(self._histogram, histogram) > self.cut_threshold
        self._histogram = histogram
        return cut

    def new_scene(self) -> None:
        """Drop the average: the next frame uses its own statistics."""
        if self.average is not None:
            self.cuts += 1
        self.average = None

    def reset(self) -> None:
        """Forget the average and the last frame (call between videos)."""
        self.average, self._histogram, self.cuts = None, None, 0

    def update(self, frame_stats: np.ndarray) -> np.ndarray:
        """Fold statistics ``[B, L, 2]`` (frames in order) into the average; returns it."""
        for stats in np.asarray(frame_stats, dtype=np.float32):
            if self.average is None:
                self.average = stats[None].copy()
            else:
                self.average = self.momentum * self.average + (1 - self.momentum) * stats[None]
        assert self.average is not None
        return self.average


class VideoFrameStylizer:
    """Stylise batches of equally sized frames with a :class:`Stylizer`.

    Frames that fit in one tile go through the backend ``batch`` at a time; larger frames are
    tiled one by one (each with its whole-frame statistics). With a smoother and a backend that
    takes external statistics, a frame is normalised with the running average of the previous
    frames' statistics (no extra generator pass; frames of one batch share the average taken
    before it); the first frame of each scene runs alone with its own statistics and seeds it.

    Args:
        stylizer: the configured photo stylizer (backend, tile, strength, post-processing).
        smoother: statistics smoothing across frames, or None for independent frames.
    """

    def __init__(self, stylizer: Stylizer, smoother: TemporalNormSmoother | None = None) -> None:
        self.stylizer = stylizer
        self.smoother = smoother
        backend = stylizer.backend
        if smoother is not None and not backend.supports_norm_stats:
            log.warning(
                "backend %s cannot take external normalisation statistics: temporal smoothing "
                "is off. Re-export the model with `animegan export` to enable it.",
                backend.name,
            )
            self.smoother = None

    def _fits(self, frame: np.ndarray) -> bool:
        height, width = frame.shape[:2]
        tile, min_side = self.stylizer.tile, self.stylizer.min_side  # 16 for the lite generator
        return min_side <= height <= tile and min_side <= width <= tile

    def _run_batch(self, frames: list[np.ndarray], start_scene: bool) -> list[np.ndarray]:
        backend = self.stylizer.backend
        photo = np.concatenate([photo_to_input(f) for f in frames])  # [B, 3, H, W]
        smoother = self.smoother
        if smoother is None or smoother.momentum == 0.0:
            fake_anime, _ = backend(photo, None, return_stats=False)
        else:
            external = None if start_scene else smoother.average
            fake_anime, stats = backend(photo, external)
            smoother.update(stats)
        return [output_to_uint8(x.transpose(1, 2, 0)) for x in fake_anime]

    def __call__(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Stylise frames in display order.

        Args:
            frames: ``[H, W, 3]`` uint8 RGB frames of one video, in order.

        Returns:
            Stylised ``[H, W, 3]`` uint8 RGB frames, same order and sizes.
        """
        if self.stylizer.strength == 0.0:
            return [f.copy() for f in frames]
        stylized: list[np.ndarray] = []
        run: list[np.ndarray] = []
        smoother = self.smoother
        for frame in frames:
            cut = smoother is not None and smoother.observe(frame)
            if run and (cut or not self._fits(frame)):
                # A scene starts inside the batch (its frames must not use the old average),
                # or a frame needs tiling: finish the frames so far first.
                stylized += self._run_batch(run, False)
                run = []
            if cut:
                smoother.new_scene()
            if not self._fits(frame):
                stats_filter = smoother.update if smoother is not None else None
                stylized.append(self.stylizer.generate(frame, stats_filter=stats_filter))
                continue
            if smoother is not None and smoother.average is None:
                # First frame of a scene: alone, with its own statistics, to seed the average
                # the rest of the scene uses.
                stylized += self._run_batch([frame], True)
                continue
            run.append(frame)
        if run:
            stylized += self._run_batch(run, False)
        return [self.stylizer.finish(f, s) for f, s in zip(frames, stylized, strict=True)]
