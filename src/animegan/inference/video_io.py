"""Video containers through PyAV: probing, opening, and the H.264 / VP9 frame writer.

PyAV wraps the FFmpeg libraries bundled in its wheel, so no system ffmpeg is needed.
:func:`probe_video` reads what :func:`~animegan.inference.video.stylize_video` keeps (size, frame
rate, duration, rotation, audio streams); :class:`PyAVWriter` encodes RGB frames and copies
audio packets unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = [
    "VIDEO_SUFFIXES",
    "PyAVWriter",
    "VideoError",
    "VideoInfo",
    "encoder_for",
    "import_av",
    "is_video_file",
    "open_video",
    "probe_video",
]

# Suffixes treated as videos (a ``.gif`` only when it has more than one frame).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif"})


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


def import_av():
    """The ``av`` module (PyAV), or a VideoError saying how to install it."""
    try:
        import av
    except ImportError as error:  # pragma: no cover - av is a dependency
        raise VideoError("video needs PyAV: pip install av==18.1.0") from error
    return av


def open_video(path: Path):
    """Open ``path`` for reading with PyAV; a VideoError names the file and the problem."""
    av = import_av()
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
    container = open_video(path)
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
        except import_av().error.FFmpegError as error:
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


def encoder_for(target: Path) -> tuple[str, str]:
    """``(codec, container format)`` for an output name."""
    suffix = target.suffix.lower()
    formats = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
               ".avi": "avi", ".webm": "webm"}  # fmt: skip
    if suffix not in formats:
        raise VideoError(
            f"cannot write a video named {target.name}; use .mp4, .mov, .mkv, .webm or .gif"
        )
    return ("libvpx-vp9" if suffix == ".webm" else "libx264"), formats[suffix]


def _even(frame: np.ndarray) -> np.ndarray:
    """Edge-pad to even sides (4:2:0 chroma needs them)."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_h or pad_w:
        frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frame


class PyAVWriter:
    """Encode RGB frames into a PyAV container (H.264 / VP9), with audio streams copied."""

    def __init__(self, path: Path, container_format: str, codec: str, size: tuple[int, int],
                 time_base: Fraction, info: VideoInfo, crf: int) -> None:  # fmt: skip
        av = import_av()
        try:
            self.output = av.open(str(path), "w", format=container_format)
        except av.error.FFmpegError as error:
            raise VideoError(f"cannot write {path.parent}: {error}") from None
        self.container_format = container_format
        self.time_base = time_base
        video = self.output.add_stream(codec, rate=info.fps or Fraction(25))
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.time_base = time_base
        video.codec_context.time_base = time_base
        video.options = {"crf": str(crf)} | ({"b:v": "0"} if codec == "libvpx-vp9" else {})
        if info.rotation:
            video.set_display_rotation(info.rotation)
        self.video = video

    def add_audio(self, streams, notes: list[str]) -> dict:
        """Add an output stream per input audio stream it can hold; ``{input index: stream}``."""
        av = import_av()
        audio_map = {}
        for in_audio in streams:
            try:
                audio_map[in_audio.index] = self.output.add_stream_from_template(in_audio)
            except (av.error.FFmpegError, ValueError) as error:
                notes.append(f"audio stream {in_audio.index} ({in_audio.codec_context.name}) not "
                             f"copied: {self.container_format} cannot hold it ({error})")  # fmt: skip
        return audio_map

    def mux(self, packet) -> None:
        """Write an (audio) packet unchanged."""
        self.output.mux(packet)

    def add(self, rgb: np.ndarray, pts: int, duration: int | None = None) -> None:
        """Encode one ``[H, W, 3]`` uint8 RGB frame at ``pts`` (in ``time_base``).

        ``duration`` is accepted for symmetry with the GIF writer; the container derives each
        frame's duration from the next timestamp.
        """
        frame = import_av().VideoFrame.from_ndarray(_even(rgb), format="rgb24")
        frame.pts, frame.time_base = pts, self.time_base
        for packet in self.video.encode(frame):
            self.output.mux(packet)

    def close(self) -> None:
        """Flush the encoder and close the file."""
        for packet in self.video.encode():
            self.output.mux(packet)
        self.output.close()
