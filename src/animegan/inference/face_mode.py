"""Face mode of ``animegan stylize`` and the web app: face2paint behind the Stylizer interface.

The portrait around the largest face is cropped at a fixed size (512: the face_paint models'
training size), stylized by an ordinary :class:`~animegan.inference.pipeline.Stylizer` (so its
backend, tiling, strength and post-processing apply to the portrait, on any backend), and
optionally pasted back into the photo.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from animegan.faces.detection import FaceDetector
from animegan.faces.face2paint import face2paint
from animegan.inference.pipeline import Stylizer

__all__ = ["FacePortraitStylizer"]


class FacePortraitStylizer:
    """Stylize the portrait crop around the largest face of each photo.

    Args:
        stylizer: stylizes the ``size``² portrait (backend, tile, strength, post-processing).
        detector: face detector (``animegan.faces.make_detector``).
        size: portrait side in pixels (512: the face_paint models' training size).
        paste_back: return the whole photo with the stylized portrait blended back in, instead
            of the portrait alone.

    A photo without a face raises ``ValueError``; the batch reports it and goes on.
    """

    def __init__(
        self,
        stylizer: Stylizer,
        detector: FaceDetector,
        size: int = 512,
        paste_back: bool = False,
    ) -> None:
        self.stylizer = stylizer
        self.detector = detector
        self.size = size
        self.paste_back = paste_back

    def __call__(self, photo: np.ndarray, on_tile: Callable[[], None] | None = None) -> np.ndarray:
        """``photo`` H×W×3 uint8 RGB → portrait (size²) or the pasted-back photo, uint8 RGB."""
        result = face2paint(
            photo,
            lambda portrait: self.stylizer(portrait, on_tile),
            detector=self.detector,
            size=self.size,
            paste_back=self.paste_back,
        )
        return result.pasted if self.paste_back else result.portrait
