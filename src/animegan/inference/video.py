"""Video stylisation with PyAV: decode, batch through a backend, smooth statistics, encode.

A video goes through the same :class:`~animegan.inference.pipeline.Stylizer` as a photo
(backend, tiling of large frames, post-processing, strength), frame by frame in batches, with
no temporary frame folder: frames are decoded by PyAV's bundled FFmpeg, stylised in memory and
encoded straight into the output container.

- Kept: frame size (unless ``max_side`` shrinks it), each frame's timestamp (so variable frame
  rate phone clips keep their timing), the display rotation (written back as the same display
  matrix; frames are stylised as stored), the audio streams (packets copied unchanged, no
  re-encoding), the duration.
- Encoders: H.264 (``libx264``, ``crf``) into mp4/mov/mkv/avi; VP9 (``libvpx-vp9``) into webm.
  An animated GIF becomes an H.264 ``.mp4`` of the same name (GIF's 256-colour palette would
  undo the style's colours).
- The output is written under a temporary name in the output folder and renamed at the end: a
  failure mid-video leaves nothing under the final name.

Temporal stability: each frame normalised by its own layer-norm statistics flickers, because
those statistics jump from frame to frame. :class:`TemporalNormSmoother` keeps an exponential
moving average of the statistics the generator computed on previous frames and feeds it as
external statistics (the same machinery that keeps tiles of one photo consistent,
:mod:`animegan.inference.norm_stats`), and resets at scene cuts, found by the change of the
colour histogram of a small thumbnail.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from animegan.inference.pipeline import Stylizer, output_to_uint8, photo_to_input
from animegan.inference.resize import resize_rgb, scaled_size

__all__ = [
    "VIDEO_SUFFIXES",
    "TemporalNormSmoother",
    "VideoError",
    "VideoFrameStylizer",
    "VideoInfo",
    "VideoReport",
    "histogram_change",
    "is_video_file",
    "probe_video",
    "video_output_path",
    "stylize_video",
]

log = logging.getLogger(__name__)

# Suffixes treated as videos (a ``.gif`` only when it has more than one frame).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif"})
DEFAULT_CRF = 18  # x264/VP9 constant-quality factor: 0 lossless .. 51 worst; 18 ~ transparent
DEFAULT_BATCH = 4
DEFAULT_MOMENTUM = 0.8  # weight of the past in the statistics average (~5-frame memory)
DEFAULT_CUT_THRESHOLD = 0.35  # histogram change in [0, 1] above which a frame starts a scene


class VideoError(ValueError):
    """A video cannot be read or written; the message says which file and why."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found.

    Attributes:
        width: stored frame width in pixels (before display rotation).
        height: stored frame height in pixels.
        fps: average frame rate (frames per second), e.g. ``Fraction(30000, 1001)``.
        frames: frame count from the container (0 when it does not say).
        duration_s: duration in seconds (0.0 when unknown).
        rotation: display rotation in degrees counter-clockwise (phone videos: 90, -90, 180).
        audio_streams: number of audio streams.
        codec: video codec name.
    """

    width: int
    height: int
    fps: Fraction
    frames: int
    duration_s: float
    rotation: int
    audio_streams: int
    codec: str


def _av():
    try:
        import av
    except ImportError as error:  # pragma: no cover - av is a dependency
        raise VideoError("video needs PyAV: pip install av==18.1.0") from error
    return av


def _open_input(path: Path):
    av = _av()
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    try:
        return av.open(str(path), "r")
    except av.error.EOFError:
        raise VideoError(f"{path} ends before its first frame: empty or truncated") from None
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise VideoError(f"{path}: not a readable video ({error.__class__.__name__}: "
                         f"{getattr(error, 'strerror', None) or error})") from None  # fmt: skip


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's metadata (and its first frame, for the rotation).

    Args:
        path: video file (container judged by content).

    Returns:
        :class:`VideoInfo`.

    Raises:
        VideoError: not a video, no video stream (e.g. audio only), or no frame at all.
    """
    path = Path(path)
    container = _open_input(path)
    try:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise VideoError(f"{path} has no video stream ({', '.join(kinds)}); pass a video")
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate or Fraction(0)
        duration_s = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / 1_000_000
        rotation = 0
        try:
            first = next(container.decode(stream), None)
        except _av().error.FFmpegError as error:
            raise VideoError(f"{path}: cannot decode its first frame ({error})") from None
        if first is None:
            raise VideoError(f"{path} has a video stream but no frame; nothing to stylize")
        rotation = int(first.rotation or 0)
        return VideoInfo(
            width=int(first.width),
            height=int(first.height),
            fps=Fraction(fps),
            frames=int(stream.frames or 0),
            duration_s=duration_s,
            rotation=rotation,
            audio_streams=len(container.streams.audio),
            codec=stream.codec_context.name,
        )
    finally:
        container.close()


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` should go through the video pipeline (by suffix; GIFs if animated)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        return False
    if suffix != ".gif":
        return True
    from PIL import Image

    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except (OSError, ValueError):
        return False


def video_output_path(relative: Path) -> Path:
    """Output name of a video: the same name; an animated ``.gif`` becomes ``.mp4``."""
    return relative.with_suffix(".mp4") if relative.suffix.lower() == ".gif" else relative


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


@dataclass
class VideoReport:
    """Outcome of :func:`stylize_video`.

    Attributes:
        output: the written file.
        frames: frames written.
        expected_frames: frames the container announced for the stylised span (0 if unknown).
        fps: average frame rate of the input.
        size: ``(width, height)`` of the output frames.
        audio_streams: audio streams copied.
        scene_cuts: scene cuts where the smoothed statistics were reset.
        seconds: wall time.
        notes: things the user should know (dropped audio stream, padded odd size, ...).
    """

    output: Path
    frames: int = 0
    expected_frames: int = 0
    fps: float = 0.0
    size: tuple[int, int] = (0, 0)
    audio_streams: int = 0
    scene_cuts: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _encoder_for(target: Path) -> tuple[str, str]:
    """``(codec, container format)`` for an output name."""
    suffix = target.suffix.lower()
    formats = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
               ".avi": "avi", ".webm": "webm"}  # fmt: skip
    if suffix not in formats:
        raise VideoError(f"cannot write a video named {target.name}; use .mp4, .mov, .mkv, .webm")
    return ("libvpx-vp9" if suffix == ".webm" else "libx264"), formats[suffix]


def _even(frame: np.ndarray) -> np.ndarray:
    """Edge-pad to even sides (4:2:0 chroma needs them)."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_h or pad_w:
        frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frame


def _batches(frames: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in frames:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def stylize_video(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    frame_stylizer: VideoFrameStylizer | Callable[[list[np.ndarray]], list[np.ndarray]],
    *,
    crf: int = DEFAULT_CRF,
    batch: int = DEFAULT_BATCH,
    start: float = 0.0,
    duration: float | None = None,
    max_side: int | None = None,
    keep_size: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> VideoReport:
    """Stylise one video into ``target``, keeping timing, rotation and audio.

    Args:
        source: input video (mp4, mov, mkv, webm, avi, animated GIF, ...).
        target: output file; its suffix picks the container (see :func:`video_output_path`).
        frame_stylizer: maps a list of uint8 RGB frames to stylised frames of the same sizes.
        crf: constant-quality factor of the encoder, 0 (lossless) .. 51 (worst); 18 default.
        batch: frames per call of ``frame_stylizer`` (>= 1).
        start: first second to stylise (>= 0); earlier frames and audio are dropped.
        duration: seconds to stylise from ``start`` (> 0), or None for the rest.
        max_side: shrink frames so the longer side is at most this many pixels before
            stylising (None: keep the frame size).
        keep_size: with ``max_side``, scale the stylised frames back to the input size.
        overwrite: replace an existing ``target``; otherwise an existing one raises.
        progress: show a progress bar (frames/s and ETA).

    Returns:
        :class:`VideoReport`.

    Raises:
        VideoError: unreadable input, no video stream or frames, an unwritable output, or a
            decoding error mid-video (nothing is left under ``target`` then).
        FileExistsError: ``target`` exists and ``overwrite`` is False.
    """
    import time

    from tqdm.auto import tqdm

    av = _av()
    source, target = Path(source), Path(target)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be in [0, 51], got {crf}")
    if start < 0 or (duration is not None and duration <= 0):
        raise ValueError(f"need start >= 0 and duration > 0, got {start}, {duration}")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists (pass --overwrite to replace it)")
    if target.exists() and target.resolve() == source.resolve():
        raise VideoError(f"output {target} would replace the input; choose another --out")
    info = probe_video(source)
    codec, container_format = _encoder_for(target)
    began = time.perf_counter()
    report = VideoReport(output=target, fps=float(info.fps))
    end = None if duration is None else start + duration
    span = (end if end is not None else info.duration_s) - start
    if info.duration_s and start >= info.duration_s:
        raise VideoError(f"--start {start:g} s is past the end of {source} ({info.duration_s:.2f} s)")
    if info.fps and span > 0:
        report.expected_frames = round(span * float(info.fps))
    work_size = scaled_size(info.width, info.height, max_side)
    out_size = (info.width, info.height) if (keep_size or work_size is None) else work_size
    even_size = (out_size[0] + out_size[0] % 2, out_size[1] + out_size[1] % 2)
    if even_size != out_size:
        report.notes.append(f"odd frame size {out_size[0]}x{out_size[1]} edge-padded to "
                            f"{even_size[0]}x{even_size[1]} (4:2:0 video needs even sides)")  # fmt: skip
    report.size = even_size

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}"
    container = _open_input(source)
    output = None
    bar = None
    try:
        in_video = container.streams.video[0]
        in_video.thread_type = "AUTO"
        time_base = in_video.time_base or Fraction(1, 90000)
        try:
            output = av.open(str(tmp), "w", format=container_format)
        except av.error.FFmpegError as error:
            raise VideoError(f"cannot write {tmp.parent}: {error}") from None
        out_video = output.add_stream(codec, rate=info.fps or Fraction(25))
        out_video.width, out_video.height = even_size
        out_video.pix_fmt = "yuv420p"
        out_video.time_base = time_base
        out_video.codec_context.time_base = time_base
        out_video.options = {"crf": str(crf)} | ({"b:v": "0"} if codec == "libvpx-vp9" else {})
        if info.rotation:
            out_video.set_display_rotation(info.rotation)
        audio_map = {}
        for in_audio in container.streams.audio:
            try:
                audio_map[in_audio.index] = output.add_stream_from_template(in_audio)
            except (av.error.FFmpegError, ValueError) as error:
                report.notes.append(f"audio stream {in_audio.index} ({in_audio.codec_context.name})"
                                    f" not copied: {container_format} cannot hold it ({error})")  # fmt: skip
        report.audio_streams = len(audio_map)
        if start > 0:
            container.seek(int(start / time_base), stream=in_video, backward=True)
        start_pts = round(start / time_base)
        bar = tqdm(total=report.expected_frames or None, desc=source.name, unit="frame",
                   disable=not progress)  # fmt: skip

        def video_frames() -> Iterator[tuple[np.ndarray, int]]:
            for packet in container.demux(in_video, *container.streams.audio):
                stream = packet.stream
                if stream.type == "audio":
                    out_audio = audio_map.get(stream.index)
                    if out_audio is None or packet.pts is None:
                        continue
                    seconds = float(packet.pts * stream.time_base)
                    # Encoder priming packets sit before 0 (AAC: -1024 samples); keep them
                    # unless the clip is cut.
                    if (start > 0 and seconds < start) or (end is not None and seconds >= end):
                        continue
                    shift = round(start / stream.time_base)
                    packet.pts -= shift
                    if packet.dts is not None:
                        packet.dts -= shift
                    packet.stream = out_audio
                    output.mux(packet)
                    continue
                for frame in packet.decode():
                    if frame.pts is None:
                        continue
                    seconds = float(frame.pts * time_base)
                    if seconds < start - 1e-6:
                        continue
                    if end is not None and seconds >= end - 1e-6:
                        return
                    yield frame.to_ndarray(format="rgb24"), frame.pts - start_pts

        def encode(rgb: np.ndarray, pts: int) -> None:
            frame = av.VideoFrame.from_ndarray(_even(rgb), format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            for packet in out_video.encode(frame):
                output.mux(packet)

        try:
            for chunk in _batches(video_frames(), batch):
                frames = [rgb if work_size is None else resize_rgb(rgb, work_size) for rgb, _ in chunk]
                for (_, pts), stylized in zip(chunk, frame_stylizer(frames), strict=True):
                    encode(resize_rgb(stylized, out_size), pts)
                report.frames += len(chunk)
                bar.update(len(chunk))
        except av.error.FFmpegError as error:
            raise VideoError(f"{source}: decoding failed after {report.frames} frames "
                             f"({error}); the file may be corrupt or truncated") from None  # fmt: skip
        if report.frames == 0:
            raise VideoError(f"{source}: no frame in the chosen span (start {start:g} s"
                             f"{'' if duration is None else f', duration {duration:g} s'})")  # fmt: skip
        for packet in out_video.encode():
            output.mux(packet)
        output.close()
        output = None
        os.replace(tmp, target)
    finally:
        if bar is not None:
            bar.close()
        if output is not None:
            try:
                output.close()
            except Exception:  # noqa: BLE001 - already failing; the temp file goes below
                pass
        container.close()
        tmp.unlink(missing_ok=True)
    if report.expected_frames and report.frames < 0.9 * report.expected_frames:
        report.notes.append(f"{report.frames} of {report.expected_frames} announced frames were "
                            f"decoded (truncated file?)")  # fmt: skip
    smoother = getattr(frame_stylizer, "smoother", None)
    report.scene_cuts = smoother.cuts if smoother is not None else 0
    report.seconds = time.perf_counter() - began
    return report
