"""Video stylisation with PyAV: decode, batch through a backend, smooth statistics, encode.

A video goes through the same :class:`~animegan.inference.pipeline.Stylizer` as a photo
(backend, tiling of large frames, post-processing, strength), frame by frame in batches, with
no temporary frame folder: frames are decoded by PyAV's bundled FFmpeg, stylised in memory and
encoded straight into the output container.

- Kept: frame size (unless ``max_side`` shrinks it), each frame's timestamp (so variable frame
  rate phone clips keep their timing), the display rotation (written back as the same display
  matrix; frames are stylised as stored), the audio streams (packets copied unchanged, no
  re-encoding), the duration.
- Encoders: H.264 (``libx264``, ``crf``) into mp4/mov/mkv/avi; VP9 (``libvpx-vp9``) into webm;
  an animated GIF stays a GIF (Pillow, one adaptive palette per frame, frame durations and loop
  count kept: :mod:`animegan.inference.gif`).
- The output is written under a temporary name in the output folder and renamed at the end: a
  failure mid-video leaves nothing under the final name.

Temporal stability (statistics smoothed across frames, reset at scene cuts) lives in
:mod:`animegan.inference.temporal`.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from animegan.inference.gif import GifWriter, gif_loop_count
from animegan.inference.resize import resize_rgb, scaled_size
from animegan.inference.temporal import VideoFrameStylizer
from animegan.inference.video_io import (
    VIDEO_SUFFIXES,
    PyAVWriter,
    VideoError,
    VideoInfo,
    encoder_for,
    import_av,
    is_video_file,
    open_video,
    probe_video,
)

__all__ = [
    "VIDEO_SUFFIXES",
    "VideoError",
    "VideoInfo",
    "VideoReport",
    "is_video_file",
    "probe_video",
    "stylize_video",
]

log = logging.getLogger(__name__)

DEFAULT_CRF = 18  # x264/VP9 constant-quality factor: 0 lossless .. 51 worst; 18 ~ transparent
DEFAULT_BATCH = 4


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
        target: output file; its suffix picks the container (.mp4/.m4v/.mov/.mkv/.avi: H.264, .webm: VP9, .gif: GIF).
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

    av = import_av()
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
    as_gif = target.suffix.lower() == ".gif"
    codec, container_format = ("", "gif") if as_gif else encoder_for(target)
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
    even_size = out_size if as_gif else (out_size[0] + out_size[0] % 2, out_size[1] + out_size[1] % 2)
    if even_size != out_size:
        report.notes.append(f"odd frame size {out_size[0]}x{out_size[1]} edge-padded to "
                            f"{even_size[0]}x{even_size[1]} (4:2:0 video needs even sides)")  # fmt: skip
    report.size = even_size

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}"
    container = open_video(source)
    output = None
    bar = None
    try:
        in_video = container.streams.video[0]
        in_video.thread_type = "AUTO"
        time_base = in_video.time_base or Fraction(1, 90000)
        if as_gif:
            writer = GifWriter(tmp, time_base, gif_loop_count(source), info.fps or Fraction(10))
            audio_map = {}
            if container.streams.audio:
                report.notes.append("audio not copied: a GIF cannot hold sound")
        else:
            writer = output = PyAVWriter(tmp, container_format, codec, even_size, time_base,
                                          info, crf)  # fmt: skip
            audio_map = output.add_audio(container.streams.audio, report.notes)
        report.audio_streams = len(audio_map)
        if start > 0:
            container.seek(int(start / time_base), stream=in_video, backward=True)
        start_pts = round(start / time_base)
        bar = tqdm(total=report.expected_frames or None, desc=source.name, unit="frame",
                   disable=not progress)  # fmt: skip

        def video_frames() -> Iterator[tuple[np.ndarray, int, int | None]]:
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
                    writer.mux(packet)
                    continue
                for frame in packet.decode():
                    if frame.pts is None:
                        continue
                    seconds = float(frame.pts * time_base)
                    if seconds < start - 1e-6:
                        continue
                    if end is not None and seconds >= end - 1e-6:
                        return
                    duration = getattr(frame, "duration", None) or None  # in time_base
                    yield frame.to_ndarray(format="rgb24"), frame.pts - start_pts, duration

        try:
            for chunk in _batches(video_frames(), batch):
                frames = [rgb if work_size is None else resize_rgb(rgb, work_size) for rgb, *_ in chunk]
                for (_, pts, span), stylized in zip(chunk, frame_stylizer(frames), strict=True):
                    writer.add(resize_rgb(stylized, out_size), pts, span)
                report.frames += len(chunk)
                bar.update(len(chunk))
        except av.error.FFmpegError as error:
            raise VideoError(f"{source}: decoding failed after {report.frames} frames "
                             f"({error}); the file may be corrupt or truncated") from None  # fmt: skip
        if report.frames == 0:
            raise VideoError(f"{source}: no frame in the chosen span (start {start:g} s"
                             f"{'' if duration is None else f', duration {duration:g} s'})")  # fmt: skip
        output = None  # closed by the writer from here on; a failure still removes tmp
        writer.close()
        os.replace(tmp, target)
    finally:
        if bar is not None:
            bar.close()
        if output is not None:
            try:
                output.output.close()  # no flush: the partial file is removed below
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
