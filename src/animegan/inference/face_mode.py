"""Face mode of ``animegan stylize``: face2paint (portrait around the largest face, stylized at a
fixed size, optionally pasted back) behind the same call interface as :class:`Stylizer`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from animegan.faces.detection import FaceDetector
from animegan.faces.face2paint import face2paint


class FacePortraitStylizer:
    """Stylize the portrait crop around the largest face of each photo.

    Args:
        generator: photo → anime network (RGB [-1, 1]), eval mode.
        detector: face detector (``animegan.faces.make_detector``).
        size: portrait side in pixels (512: the face_paint models' training size).
        paste_back: return the whole photo with the stylized portrait blended back in, instead
            of the portrait alone.

    A photo without a face raises ``ValueError``; the batch reports it and goes on.
    """

    def __init__(
        self,
        generator: nn.Module,
        detector: FaceDetector,
        size: int = 512,
        paste_back: bool = False,
    ) -> None:
        self.generator = generator
        self.detector = detector
        self.size = size
        self.paste_back = paste_back

    def __call__(
        self, photo: np.ndarray, on_tile: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """``photo`` H×W×3 uint8 RGB → portrait (size²) or the pasted-back photo, uint8 RGB."""
        result = face2paint(
            photo,
            self.generator,
            detector=self.detector,
            size=self.size,
            paste_back=self.paste_back,
        )
        return result.pasted if self.paste_back else result.portrait
