"""Video stylisation end to end with PyAV: tiny clips made on the fly, a random generator."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from animegan.cli.main import main as animegan_main
from animegan.inference import Stylizer, TorchBackend
from animegan.inference.temporal import (
    TemporalNormSmoother,
    VideoFrameStylizer,
    histogram_change,
    thumbnail_histogram,
)
from animegan.inference.video import VideoError, probe_video, stylize_video
from animegan.models import Generator, export_state_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator().eval()


@pytest.fixture(scope="module")
def weights(generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_state_dict(generator, tmp_path_factory.mktemp("w") / "generator.pt")


def scene(i: int, width: int = 64, height: int = 48, hue: int = 0) -> np.ndarray:
    """A gradient scene that pans by 3 px per frame; ``hue`` picks a different scene."""
    yy, xx = np.mgrid[0:height, 0:width]
    red = (xx * 4 + i * 12 + hue * 90) % 256
    green = (yy * 5 + hue * 160) % 256
    blue = np.full_like(xx, 60 + hue * 120) % 256
    return np.stack([red, green, blue], -1).astype(np.uint8)


def make_video(path: Path, frames: list[np.ndarray], *, fps: int = 10, codec: str = "libx264",
               rotation: int = 0, audio: bool = True, times: list[float] | None = None) -> Path:  # fmt: skip
    out = av.open(str(path), "w")
    video = out.add_stream(codec, rate=fps)
    video.height, video.width = frames[0].shape[:2]
    video.pix_fmt = "yuv420p"
    time_base = Fraction(1, 90000)
    video.time_base = video.codec_context.time_base = time_base
    if rotation:
        video.set_display_rotation(rotation)
    sound = None
    if audio:
        sound = out.add_stream("aac", rate=16000)
        sound.layout = "mono"
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        seconds = times[i] if times is not None else i / fps
        frame.pts, frame.time_base = round(seconds / time_base), time_base
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode():
        out.mux(packet)
    if sound is not None:
        samples = 0
        seconds = (times[-1] if times else len(frames) / fps) + 0.1
        while samples < seconds * 16000:
            tone = np.sin(np.arange(samples, samples + 1024, dtype=np.float32) * 0.05)[None]
            chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, samples
            samples += 1024
            for packet in sound.encode(chunk):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    out.close()
    return path


def audio_payloads(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def decoded(path: Path) -> tuple[list[np.ndarray], list[float]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        return [f.to_ndarray(format="rgb24") for f in frames], [float(f.time) for f in frames]


def test_cli_video_keeps_size_timing_rotation_audio(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_video(tmp_path / "clip.mp4", [scene(i) for i in range(10)], rotation=90)
    out = tmp_path / "out"
    args = ["stylize", str(clip), "--weights", str(weights), "--out", str(out), "--no-progress",
            "--batch", "3", "--crf", "10"]  # fmt: skip
    assert animegan_main(args) == 0
    assert "1 video(s) written" in capsys.readouterr().out
    result = out / "clip.mp4"
    info = probe_video(result)
    assert (info.width, info.height, info.fps, info.rotation) == (64, 48, 10, 90)
    assert info.codec == "h264" and info.audio_streams == 1
    frames_in, times_in = decoded(clip)
    frames_out, times_out = decoded(result)
    assert len(frames_out) == 10 and times_out == pytest.approx(times_in, abs=1e-3)
    assert np.abs(frames_out[4].astype(int) - frames_in[4]).mean() > 10  # stylised
    assert audio_payloads(result) == audio_payloads(clip)  # copied, not re-encoded
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    # The output exists: skipped without --overwrite, exit 0, file untouched.
    before = result.read_bytes()
    assert animegan_main(args) == 0
    assert result.read_bytes() == before


def test_cut_vfr_gif_and_max_side(weights: Path, tmp_path: Path) -> None:
    times = [0.0, 0.05, 0.3, 0.32, 0.6, 0.9, 1.0, 1.4]  # variable frame rate
    vfr = make_video(tmp_path / "vfr.mov", [scene(i) for i in range(8)], times=times)
    out = tmp_path / "out"
    common = ["--weights", str(weights), "--out", str(out), "--no-progress"]
    assert animegan_main(["stylize", str(vfr), *common, "--start", "0.3", "--duration",
                          "0.7"]) == 0  # fmt: skip
    _, got = decoded(out / "vfr.mov")
    assert got == pytest.approx([0.0, 0.02, 0.3, 0.6], abs=2e-3)  # [0.3, 1.0), shifted

    from PIL import Image

    gif = tmp_path / "anim.gif"
    pics = [Image.fromarray(scene(i, 40, 30)) for i in range(4)]
    pics[0].save(gif, save_all=True, append_images=pics[1:], duration=[100, 200, 100, 300],
                 loop=3)  # fmt: skip
    big = make_video(tmp_path / "big.mkv", [scene(i, 96, 64) for i in range(3)], audio=False)
    assert animegan_main(["stylize", str(gif), str(big), *common, "--max-side", "48"]) == 0
    # An animated GIF stays a GIF: every frame, its own duration, the loop count, the size.
    with Image.open(out / "anim.gif") as result:
        assert (result.n_frames, result.size, result.info["loop"]) == (4, (40, 30), 3)
        durations = []
        for index in range(result.n_frames):
            result.seek(index)
            durations.append(result.info["duration"])
            frame = np.asarray(result.convert("RGB"), dtype=np.int16)
            assert np.abs(frame - np.asarray(pics[index], dtype=np.int16)).mean() > 5  # stylised
    assert durations == [100, 200, 100, 300]
    small = probe_video(out / "big.mkv")
    assert (small.width, small.height) == (48, 32)
    assert animegan_main(["stylize", str(big), *common, "--max-side", "48", "--keep-size",
                          "--overwrite"]) == 0  # fmt: skip
    assert (probe_video(out / "big.mkv").width, probe_video(out / "big.mkv").height) == (96, 64)


def test_bad_videos_are_refused_with_one_line(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_video(tmp_path / "good.mp4", [scene(i) for i in range(12)])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    (bad / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    # Audio only, named like a video.
    sound = av.open(str(bad / "audio_only.mp4"), "w")
    stream = sound.add_stream("aac", rate=16000)
    stream.layout = "mono"
    chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                       layout="mono")  # fmt: skip
    chunk.sample_rate, chunk.pts = 16000, 0
    for packet in [*stream.encode(chunk), *stream.encode()]:
        sound.mux(packet)
    sound.close()
    # A video stream without a single frame.
    empty = av.open(str(bad / "empty.mkv"), "w")
    video = empty.add_stream("libx264", rate=10)
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    empty.start_encoding()  # writes the header; no frame follows
    empty.close()
    out = tmp_path / "out"
    args = ["stylize", *(str(p) for p in sorted(bad.iterdir())), "--weights", str(weights),
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert animegan_main(args) == 1
    err = capsys.readouterr().err
    assert "audio_only.mp4 has no video stream" in err
    assert "empty.mkv ends before its first frame: empty or truncated" in err
    assert "corrupt.mp4: not a readable video" in err
    assert "Traceback" not in err
    for line in err.splitlines():
        assert line.startswith("  failed: ") or line.startswith("warning")
    written = sorted(p.name for p in out.iterdir()) if out.exists() else []
    # A truncated file is either stylised up to where it breaks or refused, never half-named.
    assert written in ([], ["truncated.mp4"])
    assert not [n for n in written if n.startswith(".")]


def test_failure_mid_video_leaves_no_output(generator: Generator, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", [scene(i) for i in range(9)])
    calls = []

    def breaks_on_second_batch(frames: list[np.ndarray]) -> list[np.ndarray]:
        calls.append(len(frames))
        if len(calls) == 2:
            raise RuntimeError("out of memory")
        return frames

    target = tmp_path / "out" / "clip.mp4"
    with pytest.raises(RuntimeError):
        stylize_video(clip, target, breaks_on_second_batch, batch=4, progress=False)
    assert calls == [4, 4]
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(VideoError, match="no frame in the chosen span"):
        stylize_video(clip, target, breaks_on_second_batch, start=0.85, duration=0.01,
                      progress=False)  # fmt: skip
    with pytest.raises(VideoError, match="past the end"):
        stylize_video(clip, target, lambda f: f, start=50, progress=False)


class RecordingBackend:
    """Fake backend: output = input, statistics = the frame's mean per layer; records calls."""

    name = "recording"
    supports_norm_stats = True

    def __init__(self) -> None:
        self.external: list[np.ndarray | None] = []

    def __call__(self, photo, norm_stats=None, *, return_stats=True):
        self.external.append(None if norm_stats is None else norm_stats.copy())
        means = photo.mean(axis=(1, 2, 3))  # [B]
        stats = np.stack([np.stack([means, means + 1], -1)] * 3, axis=1)  # [B, 3, 2]
        return photo.copy(), stats.astype(np.float32)


def test_smoother_uses_past_frames_and_resets_on_cuts() -> None:
    backend = RecordingBackend()
    stylizer = Stylizer(backend, tile=64, overlap=8)
    smoother = TemporalNormSmoother(momentum=0.5, cut_threshold=0.35)
    frames = [scene(i) for i in range(4)] + [scene(i, hue=1) for i in range(3)]
    out = VideoFrameStylizer(stylizer, smoother)(frames[:2]) + VideoFrameStylizer(
        stylizer, smoother
    )(frames[2:])
    assert len(out) == 7 and all(np.array_equal(a, b) for a, b in zip(out, frames, strict=True))
    # Frame 0 alone with its own statistics (None); frame 1 with frame 0's; frames 2-3 with the
    # average of 0 and 1; the cut at frame 4: alone with its own, then 5-6 with frame 4's.
    assert len(backend.external) == 5
    assert backend.external[0] is None and backend.external[3] is None
    mean = [(f.astype(np.float32) / 127.5 - 1).mean() for f in frames]
    np.testing.assert_allclose(backend.external[1][0, :, 0], mean[0], rtol=1e-5)
    np.testing.assert_allclose(backend.external[2][0, :, 0], 0.5 * (mean[0] + mean[1]), rtol=1e-5)
    np.testing.assert_allclose(backend.external[4][0, :, 0], mean[4], rtol=1e-5)
    assert smoother.cuts == 1
    # Camera motion barely moves the histogram; a new scene does.
    pan = histogram_change(thumbnail_histogram(frames[0]), thumbnail_histogram(frames[3]))
    cut = histogram_change(thumbnail_histogram(frames[3]), thumbnail_histogram(frames[4]))
    assert pan < 0.35 < cut


def test_tiled_frames_use_smoothed_whole_frame_statistics(generator: Generator) -> None:
    stylizer = Stylizer(TorchBackend(generator), tile=32, overlap=8)
    smoother = TemporalNormSmoother(0.8)
    out = VideoFrameStylizer(stylizer, smoother)([scene(i) for i in range(3)])
    assert [o.shape for o in out] == [(48, 64, 3)] * 3
    assert smoother.average is not None and smoother.average.shape == (1, 24, 2)
