"""Animated GIF output for stylised videos, written with Pillow.

FFmpeg's GIF encoder (through PyAV) needs a palette filter graph to look right; Pillow quantises
each frame to its own adaptive 256-colour palette, which suits the flat colours of the anime
style. Frames are quantised as they arrive (1 byte per pixel held, not 3) and the file is
written once at the end, because a GIF stores every frame's duration and the loop count in one
stream that Pillow writes in a single call.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["GifWriter", "gif_loop_count"]

# GIF stores durations in hundredths of a second; browsers show anything below 20 ms as 100 ms.
_MIN_DURATION_MS = 20


def gif_loop_count(path: str | os.PathLike[str]) -> int | None:
    """The loop count of a GIF (0 = forever), or None when it plays once (or is not a GIF)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.format != "GIF":
                return None
            loop = image.info.get("loop")
    except (OSError, ValueError):
        return None
    return None if loop is None else int(loop)


class GifWriter:
    """Collect stylised frames and write them as one animated GIF.

    Args:
        path: file to write (usually a hidden temporary name, renamed by the caller).
        time_base: seconds per unit of the ``pts`` given to :meth:`add`.
        loop: GIF loop count (0 = forever), or None to play once.
        fallback_fps: frame rate for the last frame's duration when only one frame came.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        time_base: Fraction,
        loop: int | None = 0,
        fallback_fps: Fraction | float = 10,
    ) -> None:
        self.path = Path(path)
        self.time_base = Fraction(time_base)
        self.loop = loop
        self.fallback_fps = float(fallback_fps) or 10.0
        self._frames: list = []  # PIL "P" images
        self._pts: list[int] = []
        self._last_duration: int | None = None

    def add(self, rgb: np.ndarray, pts: int, duration: int | None = None) -> None:
        """Quantise one ``[H, W, 3]`` uint8 RGB frame shown from ``pts`` (in ``time_base``).

        ``duration`` (in ``time_base``, from the decoder) is used for the last frame, whose
        display time no later timestamp gives; None repeats the previous frame's.
        """
        from PIL import Image

        frame = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
        # No dithering: dither noise differs from frame to frame and would flicker.
        self._frames.append(frame.quantize(colors=256, dither=Image.Dither.NONE))
        self._pts.append(int(pts))
        self._last_duration = duration

    def durations_ms(self) -> list[int]:
        """Each frame's display time in milliseconds, >= 20 (what browsers honour)."""
        seconds = [
            float((b - a) * self.time_base)
            for a, b in zip(self._pts[:-1], self._pts[1:], strict=True)
        ]
        if self._last_duration:
            seconds.append(float(self._last_duration * self.time_base))
        else:
            seconds.append(seconds[-1] if seconds else 1.0 / self.fallback_fps)
        return [max(_MIN_DURATION_MS, round(s * 1000)) for s in seconds]

    def close(self) -> None:
        """Write the GIF (nothing when no frame came)."""
        if not self._frames:
            return
        first, rest = self._frames[0], self._frames[1:]
        options = {} if self.loop is None else {"loop": self.loop}
        first.save(
            self.path,
            format="GIF",
            save_all=True,
            append_images=rest,
            duration=self.durations_ms(),
            disposal=1,  # each frame covers the whole canvas: leave it in place
            optimize=False,
            **options,
        )
        self._frames = []
