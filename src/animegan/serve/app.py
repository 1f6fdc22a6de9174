"""The web app: a Gradio page over the stylize pipeline (photos, videos, the webcam).

Safe by default:

- binds 127.0.0.1 unless a host is given; no share link; Gradio analytics off; system fonts
  only (no Google Fonts request), so the page works with no internet;
- the weights are chosen from a list built at start (published names found in the torch hub
  cache, ``.pt``/``.ckpt``/``.onnx`` files of the configured folder, the ``--weights`` file):
  the browser sends a label, never a path;
- limits on upload size, pixel count (checked from the header, before decoding) and video
  length; a queue with a concurrency limit;
- every failure is one friendly line in the page (in the status box, and a toast); the traceback of an
  unexpected one goes to the server log only, and the server keeps serving.

CPU inference runs through onnxruntime (the generator is exported once per weights), GPU
inference through PyTorch when CUDA is present.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ServeConfig", "UserError", "WeightsCatalog", "build_app", "stylize_upload"]

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".pt", ".ckpt", ".onnx")
IMAGE_OUTPUT_SUFFIX = ".png"


class UserError(ValueError):
    """Bad input from the page; its message is shown to the user as is."""


@dataclass(frozen=True)
class ServeConfig:
    """Limits and defaults of the web app.

    Attributes:
        weights_dir: folder whose ``.pt``/``.ckpt``/``.onnx`` files can be chosen (not
            recursive), or None.
        weights: an extra weights file or published name offered first (the default choice).
        max_upload_mb: largest upload in megabytes.
        max_pixels: largest photo or video frame in pixels (width * height).
        max_video_seconds: longest video accepted, in seconds.
        max_side: default of the page's "longer side" slider in pixels (0 = full size).
        concurrency: requests stylised at the same time (others wait in the queue).
        queue_size: requests that may wait; more are refused with a "busy" message.
        device: ``"auto"`` (CUDA when present, else onnxruntime on CPU), ``"cpu"`` or ``"cuda"``.
        threads: CPU threads per request (onnxruntime intra-op), None = all cores.
    """

    weights_dir: Path | None = None
    weights: str | None = None
    max_upload_mb: int = 50
    max_pixels: int = 24_000_000
    max_video_seconds: float = 30.0
    max_side: int = 1024
    concurrency: int = 1
    queue_size: int = 16
    device: str = "auto"
    threads: int | None = None


class WeightsCatalog:
    """The weights the page can choose, by label, and their loaded backends (built lazily).

    Args:
        config: where the weights come from and which device runs them.
    """

    def __init__(self, config: ServeConfig) -> None:
        from animegan.models.registry import PUBLISHED_WEIGHTS, cache_path, resolve_weights

        self.config = config
        self.choices: dict[str, Path] = {}
        if config.weights:
            path = resolve_weights(config.weights)
            if not path.is_file():
                raise FileNotFoundError(f"--weights {config.weights}: no such file")
            self.choices[path.name if path.name != f"{config.weights}.pt" else config.weights] = path
        for name in PUBLISHED_WEIGHTS:
            if cache_path(name).is_file() and name not in self.choices:
                self.choices[name] = cache_path(name)
        if config.weights_dir is not None:
            if not config.weights_dir.is_dir():
                raise FileNotFoundError(f"--weights-dir {config.weights_dir} is not a folder")
            for path in sorted(config.weights_dir.iterdir()):
                if path.is_file() and path.suffix.lower() in WEIGHT_SUFFIXES:
                    self.choices.setdefault(path.name, path)
        self._backends: dict[str, object] = {}
        self._lock = threading.Lock()

    def backend(self, label: str):
        """The backend of a label from :attr:`choices` (built on first use, then reused)."""
        if label not in self.choices:
            raise UserError("Choose one of the listed weights.")
        with self._lock:
            if label not in self._backends:
                from animegan.inference import build_backend

                device = self.config.device
                if device == "auto":
                    import torch

                    device = "cuda" if torch.cuda.is_available() else "cpu"
                path = self.choices[label]
                use_torch = device != "cpu" and path.suffix.lower() != ".onnx"
                self._backends[label] = build_backend(
                    path,
                    backend="torch" if use_torch else "onnx",
                    device=device,
                    threads=self.config.threads,
                )
            return self._backends[label]


def _check_pixels(width: int, height: int, config: ServeConfig, what: str) -> None:
    if width * height > config.max_pixels:
        raise UserError(
            f"The {what} is {width}x{height} ({width * height / 1e6:.1f} MP); this server "
            f"takes at most {config.max_pixels / 1e6:.0f} MP. Resize it and try again."
        )


def stylize_upload(
    source: str | os.PathLike[str] | np.ndarray,
    catalog: WeightsCatalog,
    *,
    weights: str,
    strength: float = 1.0,
    max_side: int = 0,
    face: bool = False,
    bilateral: bool = False,
    white_balance: bool = False,
    unsharp: bool = False,
    match_brightness: bool = False,
    out_dir: str | os.PathLike[str] | None = None,
) -> tuple[str, str, bool]:
    """Stylise an uploaded photo or video (what the page's button runs).

    Args:
        source: uploaded file path, or an ``[H, W, 3]`` uint8 RGB webcam frame.
        catalog: the weights on offer.
        weights: label of the chosen weights (from ``catalog.choices``).
        strength: style strength in [0, 1].
        max_side: shrink so the longer side is at most this many pixels (0 = full size).
        face: face mode (portrait around the largest face; torch weights and a detector).
        bilateral: edge-preserving smoothing of the result.
        white_balance: gray-world white balance of the result.
        unsharp: unsharp mask of the result.
        match_brightness: scale the result so its mean luma equals the input's (the official
            ``adjust_brightness`` step; per frame for videos; runs after the other steps).
            Face mode, like ``animegan stylize --face``, applies no post-processing.
        out_dir: where the result is written (default: a new temporary folder).

    Returns:
        ``(input_preview_path, output_path, is_video)``.

    Raises:
        UserError: anything the user can fix; the message is one friendly line.
    """
    from animegan.data.decode import ImageDecodeError
    from animegan.inference import PostProcess, Stylizer, read_photo, write_image
    from animegan.inference.resize import MaxSideStylizer
    from animegan.inference.video import is_video_file

    config = catalog.config
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="animegan-serve-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if not 0.0 <= strength <= 1.0:
        raise UserError("Strength must be between 0 and 1.")
    backend = catalog.backend(weights)
    post = PostProcess(
        bilateral=bilateral,
        white_balance=white_balance,
        unsharp=unsharp,
        match_brightness=match_brightness,
    )
    stylizer = Stylizer(backend, strength=strength, post=post)
    side = int(max_side) if max_side else None
    if isinstance(source, np.ndarray):
        photo = source
        input_path = out_dir / f"webcam-{uuid.uuid4().hex[:8]}.png"
        write_image(input_path, photo)
    else:
        input_path = Path(source)
        if not input_path.is_file():
            raise UserError("Upload a photo or a video first.")
        if input_path.stat().st_size > config.max_upload_mb * 1_000_000:
            raise UserError(f"The file is larger than {config.max_upload_mb} MB.")
        if is_video_file(input_path):
            if face:
                raise UserError("Face mode works on photos; turn it off for videos.")
            return _stylize_upload_video(input_path, stylizer, side, out_dir, config)
        from PIL import Image

        try:
            with Image.open(input_path) as header:  # size from the header, before decoding
                _check_pixels(*header.size, config, "photo")
            photo = read_photo(input_path).rgb
        except (ImageDecodeError, OSError, SyntaxError, ValueError) as error:
            if isinstance(error, UserError):
                raise
            try:  # a video whose name does not say so
                return _stylize_upload_video(input_path, stylizer, side, out_dir, config)
            except UserError:
                pass
            raise UserError(
                f"{input_path.name} is not a photo or video this app can read (JPEG, PNG, "
                f"WebP, MP4, MOV, MKV, WebM, GIF)."
            ) from None
    _check_pixels(photo.shape[1], photo.shape[0], config, "photo")
    run = stylizer
    if face:
        # The portrait is 512² whatever the photo's size: the longer-side bound is not applied
        # (the detector sees the full photo, within the pixel limit).
        run = _face_stylizer(stylizer)
    elif side is not None:
        run = MaxSideStylizer(run, side)
    output = out_dir / f"{Path(input_path).stem}-anime{IMAGE_OUTPUT_SUFFIX}"
    write_image(output, run(photo), overwrite=True)
    return str(input_path), str(output), False


def _face_stylizer(stylizer):
    from animegan.faces import make_detector
    from animegan.inference.face_mode import FacePortraitStylizer

    try:
        detector = make_detector("auto")
    except (OSError, ImportError, RuntimeError, ValueError):
        raise UserError("Face mode is not available on this server (no face detector).") from None
    return FacePortraitStylizer(stylizer, detector)


def _stylize_upload_video(path: Path, stylizer, side, out_dir: Path, config: ServeConfig):
    from animegan.inference.temporal import TemporalNormSmoother, VideoFrameStylizer
    from animegan.inference.video import VideoError, probe_video, stylize_video

    try:
        info = probe_video(path)
    except VideoError:
        raise UserError(f"{path.name} is not a video this app can read.") from None
    _check_pixels(info.width, info.height, config, "video frame")
    if info.duration_s > config.max_video_seconds:
        raise UserError(
            f"The video is {info.duration_s:.0f} s long; this server takes at most "
            f"{config.max_video_seconds:.0f} s. Cut it and try again."
        )
    output = out_dir / f"{path.stem}-anime.mp4"
    try:
        stylize_video(path, output, VideoFrameStylizer(stylizer, TemporalNormSmoother()),
                      max_side=side, overwrite=True, progress=False)  # fmt: skip
    except VideoError as error:
        raise UserError(f"{path.name}: {str(error).split(': ', 1)[-1]}") from None
    return str(path), str(output), True


# Results older than this are deleted from the server's results folder (Gradio has already
# copied what it serves into its own cache, which delete_cache below empties on the same clock).
RESULT_MAX_AGE_S = 3600


def prune_old_results(results_root: Path, max_age_s: float = RESULT_MAX_AGE_S) -> int:
    """Delete the per-request result folders under ``results_root`` older than ``max_age_s``.

    Args:
        results_root: the server's results folder (one sub-folder per request).
        max_age_s: age in seconds (by modification time) above which a folder is removed.

    Returns:
        Number of folders removed. A long-running server thus keeps about one hour of results
        on disk instead of every upload it ever stylized.
    """
    import shutil
    import time

    removed = 0
    now = time.time()
    for folder in results_root.iterdir() if results_root.is_dir() else ():
        if folder.is_dir() and not folder.is_symlink() and now - folder.stat().st_mtime > max_age_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def build_app(config: ServeConfig, catalog: WeightsCatalog | None = None):
    """Build the Gradio Blocks page (not launched).

    Args:
        config: limits and defaults.
        catalog: weights on offer (default: built from ``config``).

    Returns:
        ``(gradio.Blocks, launch keyword arguments)``; pass the latter to ``launch``.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    catalog = catalog or WeightsCatalog(config)
    labels: Sequence[str] = list(catalog.choices)
    if not labels:
        raise FileNotFoundError(
            "no weights to serve: pass --weights (a file or a published name such as paprika, "
            "see `animegan weights list`) or --weights-dir DIR with .pt/.ckpt/.onnx files"
        )

    results_root = Path(tempfile.mkdtemp(prefix="animegan-serve-"))

    def failed(message: str) -> tuple:
        # One friendly line, kept in the status box (a toast alone fades; raising gr.Error would
        # also mark every output panel "Error"); the outputs are cleared.
        gr.Warning(message)
        return None, None, None, None, f"**Error:** {message}"

    def run(upload, webcam, weights, strength, max_side, face, bilateral, white_balance,
            unsharp, brightness):  # fmt: skip
        source = upload if upload else webcam
        if source is None:
            return failed("Upload a photo or a video, or take a webcam photo first.")
        prune_old_results(results_root)
        try:
            preview, output, is_video = stylize_upload(
                source, catalog, weights=weights, strength=float(strength),
                max_side=int(max_side), face=bool(face), bilateral=bool(bilateral),
                white_balance=bool(white_balance), unsharp=bool(unsharp),
                match_brightness=bool(brightness), out_dir=results_root / uuid.uuid4().hex,
            )  # fmt: skip
        except UserError as error:
            return failed(str(error))
        except MemoryError:
            return failed("Not enough memory for this file; lower the longer side.")
        except Exception:  # noqa: BLE001 - the user gets one line, the log the traceback
            log.exception("stylize failed")
            return failed("Stylizing failed on the server; try another file.")
        if is_video:
            return None, None, output, output, "Done: video stylized."
        return preview, output, None, output, "Done."

    with gr.Blocks(title="AnimeGAN", delete_cache=(RESULT_MAX_AGE_S, RESULT_MAX_AGE_S)) as page:
        gr.Markdown("## AnimeGAN: photos and videos to anime (runs on this machine only)")
        with gr.Row():
            with gr.Column():
                upload = gr.File(label="Photo or video", file_count="single", type="filepath")
                webcam = gr.Image(label="or a webcam photo", sources=["webcam"], type="numpy")
                weights = gr.Dropdown(labels, value=labels[0], label="Weights")
                strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Strength")
                max_side = gr.Slider(0, 4096, value=config.max_side, step=64,
                                     label="Longer side in pixels (0 = full size; face mode: 512² portrait)")  # fmt: skip
                face = gr.Checkbox(label="Face mode (portrait)", value=False)
                with gr.Accordion("Post-processing", open=False):
                    bilateral = gr.Checkbox(label="Bilateral smoothing", value=False)
                    white_balance = gr.Checkbox(label="Gray-world white balance", value=False)
                    unsharp = gr.Checkbox(label="Unsharp mask", value=False)
                    brightness = gr.Checkbox(label="Match the photo's brightness", value=False,
                                             elem_id="match-brightness")  # fmt: skip
                button = gr.Button("Stylize", variant="primary", elem_id="stylize")
            with gr.Column():
                status = gr.Markdown(elem_id="status")
                with gr.Row():
                    shown_input = gr.Image(label="Input", type="filepath", elem_id="input-image",
                                           interactive=False)  # fmt: skip
                    shown_output = gr.Image(label="Result", type="filepath",
                                            elem_id="output-image", interactive=False)  # fmt: skip
                shown_video = gr.Video(label="Result video", interactive=False)
                download = gr.File(label="Download", interactive=False, elem_id="download")
        button.click(
            run,
            [upload, webcam, weights, strength, max_side, face]
            + [bilateral, white_balance, unsharp, brightness],
            [shown_input, shown_output, shown_video, download, status],
            concurrency_limit=config.concurrency,
        )
    page.queue(max_size=config.queue_size, default_concurrency_limit=config.concurrency)
    system_fonts = ["ui-sans-serif", "system-ui", "sans-serif"]
    theme = gr.themes.Default(font=system_fonts, font_mono=["ui-monospace", "monospace"])
    launch_kwargs = {
        "share": False,
        "max_file_size": f"{config.max_upload_mb}mb",
        "theme": theme,
        "show_error": True,  # shows gr.Error messages (Gradio-raised); tracebacks never reach the page
        "footer_links": [],
        "ssr_mode": False,
    }
    # The results folder goes with the page (garbage collection or interpreter exit).
    weakref.finalize(page, shutil.rmtree, results_root, True)
    return page, launch_kwargs
