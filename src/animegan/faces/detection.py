"""Face detectors returning boxes and the 5 ArcFace landmarks, behind one small interface.

Backends (both imported lazily, inside the constructors):

- :class:`InsightFaceDetector`: SCRFD from insightface's ``buffalo_l`` pack (best quality;
  needs the pack in a local folder or internet for insightface's first-use download).
- :class:`DlibDetector`: dlib's HOG (or CNN) detector and 68-point predictor, whose weights ship
  in the ``face-recognition-models`` wheel, so it works offline
  (``pip install 'animegan[faces]'``: ``dlib-bin`` + ``face-recognition-models``). The 68 points
  map to the ArcFace 5: eye centres = mean of points 36-41 / 42-47, nose tip 30, mouth corners
  48 / 54.

Images are HWC uint8 **RGB** arrays everywhere; landmarks are pixel ``(x, y)``, image-left first.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from animegan.models.weights import WeightsNotFoundError

__all__ = [
    "DetectedFace",
    "DlibDetector",
    "FaceDetector",
    "InsightFaceDetector",
    "dlib68_to_arcface5",
    "face_recognition_models_dir",
    "largest_face",
    "make_detector",
]


@dataclass(frozen=True)
class DetectedFace:
    """One detected face.

    Attributes:
        box: float32 [4] ``(x1, y1, x2, y2)`` in image pixels.
        landmarks: float32 [5, 2] ArcFace points (left eye, right eye, nose, left mouth, right
            mouth; image-left first) in image pixels.
        score: detector confidence (SCRFD probability in [0, 1]; dlib HOG margin, unbounded).
    """

    box: np.ndarray
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        x1, y1, x2, y2 = (float(v) for v in self.box)
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


class FaceDetector(Protocol):
    """Anything that maps an HWC uint8 RGB image to a list of :class:`DetectedFace`."""

    def __call__(self, image: np.ndarray) -> list[DetectedFace]:
        """Faces found in ``image`` (HWC uint8 RGB), in no particular order."""
        ...


def largest_face(faces: list[DetectedFace]) -> DetectedFace | None:
    """The face with the largest box, or ``None`` for an empty list."""
    return max(faces, key=lambda face: face.area, default=None)


def _check_image(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"expected an HWC uint8 RGB image, got dtype {image.dtype} and shape {image.shape}"
        )
    return np.ascontiguousarray(image)


# ---------------------------------------------------------------------------------- insightface
class InsightFaceDetector:
    """SCRFD detector of an insightface model pack (``buffalo_l`` by default).

    Args:
        model_dir: folder holding the pack's ``det_*.onnx`` (e.g. ``~/.insightface/models/
            buffalo_l``); ``None`` lets insightface find ``<root>/models/<name>`` or download it.
        name: pack name used when ``model_dir`` is ``None``.
        root: insightface's cache root.
        det_size: detector input size ``(width, height)`` in pixels.
        det_thresh: minimum detection score in [0, 1].
        providers: onnxruntime execution providers.

    Raises:
        ImportError: insightface is not installed.
        WeightsNotFoundError: ``model_dir`` does not exist, or the pack is missing and could
            not be downloaded.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        name: str = "buffalo_l",
        root: str | Path = "~/.insightface",
        det_size: tuple[int, int] = (640, 640),
        det_thresh: float = 0.5,
        providers: list[str] | None = None,
    ) -> None:
        try:
            from insightface.app import FaceAnalysis
        except ImportError as error:
            raise ImportError(
                "InsightFaceDetector needs insightface (pip install insightface==2.1); or use "
                "the offline backend: make_detector('dlib')."
            ) from error
        if model_dir is not None:
            model_dir = Path(model_dir).expanduser()
            if not model_dir.is_dir():
                raise WeightsNotFoundError(
                    f"insightface model pack not found: {model_dir} is not a folder. Unzip "
                    f"{name}.zip (github.com/deepinsight/insightface/releases) there, or pass "
                    f"model_dir=None to let insightface download it (needs internet)."
                )
        try:
            self.app = FaceAnalysis(
                name=str(model_dir) if model_dir is not None else name,
                root=str(Path(root).expanduser()),
                allowed_modules=["detection"],
                providers=providers or ["CPUExecutionProvider"],
            )
        except (OSError, RuntimeError, AssertionError, ValueError) as error:
            where = model_dir or Path(root).expanduser() / "models" / name
            raise WeightsNotFoundError(
                f"could not load insightface pack {name!r} from {where} (and downloading it "
                f"failed or is impossible offline): {error}. Put the unzipped pack there or "
                f"use make_detector('dlib')."
            ) from error
        self.app.prepare(ctx_id=-1, det_thresh=det_thresh, det_size=det_size)

    def __call__(self, image: np.ndarray) -> list[DetectedFace]:
        """Detect faces in an HWC uint8 RGB image; returns them in detector order."""
        bgr = _check_image(image)[:, :, ::-1].copy()  # insightface works on OpenCV BGR
        faces = []
        for face in self.app.get(bgr):
            faces.append(
                DetectedFace(
                    box=np.asarray(face.bbox, dtype=np.float32)[:4],
                    landmarks=np.asarray(face.kps, dtype=np.float32).reshape(5, 2),
                    score=float(face.det_score),
                )
            )
        return faces


# ----------------------------------------------------------------------------------------- dlib
def face_recognition_models_dir() -> Path:
    """Folder of the model files shipped in the ``face-recognition-models`` wheel.

    ``import face_recognition_models`` fails on current setuptools (it imports
    ``pkg_resources``), so the package is located without importing it.

    Raises:
        ImportError: the package is not installed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the offline face detector needs face-recognition-models and dlib: "
            "pip install 'animegan[faces]' (dlib-bin==20.0.1.post1 face-recognition-models==0.3.0)"
        )
    return Path(spec.submodule_search_locations[0]) / "models"


def dlib68_to_arcface5(points: np.ndarray) -> np.ndarray:
    """Map iBUG 68-point landmarks to the ArcFace 5 points.

    Args:
        points: [68, 2] landmarks in pixels (iBUG/dlib order).

    Returns:
        float32 [5, 2]: mean of eye points 36-41 (image-left eye) and 42-47, nose tip 30,
        mouth corners 48 and 54.
    """
    points = np.asarray(points, dtype=np.float64).reshape(68, 2)
    return np.stack(
        [points[36:42].mean(0), points[42:48].mean(0), points[30], points[48], points[54]]
    ).astype(np.float32)


class DlibDetector:
    """dlib face detector + 68-point landmarks, weights from ``face-recognition-models``.

    Args:
        model: ``"hog"`` (fast CPU HOG+SVM, frontal faces) or ``"cnn"`` (MMOD CNN; slower on
            CPU, finds more poses).
        upsample: times the image is upsampled before detection (1 finds faces down to about
            40 px; 0 is faster on large images).
        models_dir: folder with ``shape_predictor_68_face_landmarks.dat`` (and
            ``mmod_human_face_detector.dat`` for cnn); default: the wheel's folder.

    Raises:
        ImportError: dlib or face-recognition-models is not installed.
        WeightsNotFoundError: a model file is missing from ``models_dir``.
    """

    def __init__(
        self,
        model: Literal["hog", "cnn"] = "hog",
        *,
        upsample: int = 1,
        models_dir: str | Path | None = None,
    ) -> None:
        try:
            import dlib
        except ImportError as error:
            raise ImportError(
                "DlibDetector needs dlib: pip install 'animegan[faces]' "
                "(dlib-bin==20.0.1.post1 face-recognition-models==0.3.0)"
            ) from error
        if model not in ("hog", "cnn"):
            raise ValueError(f"model must be 'hog' or 'cnn', got {model!r}")
        folder = Path(models_dir) if models_dir is not None else face_recognition_models_dir()
        predictor_path = folder / "shape_predictor_68_face_landmarks.dat"
        if not predictor_path.is_file():
            raise WeightsNotFoundError(f"dlib 68-point landmark model not found: {predictor_path}")
        self.predictor = dlib.shape_predictor(str(predictor_path))
        self.model = model
        self.upsample = upsample
        if model == "cnn":
            cnn_path = folder / "mmod_human_face_detector.dat"
            if not cnn_path.is_file():
                raise WeightsNotFoundError(f"dlib CNN face detector not found: {cnn_path}")
            self.detector = dlib.cnn_face_detection_model_v1(str(cnn_path))
        else:
            self.detector = dlib.get_frontal_face_detector()

    def __call__(self, image: np.ndarray) -> list[DetectedFace]:
        """Detect faces in an HWC uint8 RGB image; returns them in detector order."""
        image = _check_image(image)
        faces = []
        if self.model == "cnn":
            detections = [
                (d.rect, float(d.confidence)) for d in self.detector(image, self.upsample)
            ]
        else:
            rects, scores, _ = self.detector.run(image, self.upsample, 0.0)
            detections = list(zip(rects, (float(s) for s in scores), strict=True))
        for rect, score in detections:
            shape = self.predictor(image, rect)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            faces.append(
                DetectedFace(
                    box=np.array(
                        [rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1],
                        dtype=np.float32,
                    ),
                    landmarks=dlib68_to_arcface5(points),
                    score=score,
                )
            )
        return faces


def make_detector(
    backend: Literal["auto", "insightface", "dlib"] = "auto",
    *,
    model_dir: str | Path | None = None,
    det_thresh: float = 0.5,
    dlib_model: Literal["hog", "cnn"] = "hog",
    upsample: int = 1,
) -> FaceDetector:
    """Build a face detector by backend name.

    Args:
        backend: ``"insightface"`` (SCRFD; ``model_dir`` or a cached/downloadable buffalo_l),
            ``"dlib"`` (offline, pip extra ``faces``), or ``"auto"``: insightface when
            ``model_dir`` is given, else dlib when installed, else insightface.
        model_dir: insightface pack folder.
        det_thresh: insightface detection threshold in [0, 1].
        dlib_model: ``"hog"`` or ``"cnn"`` (dlib backend).
        upsample: dlib upsampling count.

    Returns:
        A callable ``image (HWC uint8 RGB) -> list[DetectedFace]``.
    """
    if backend == "auto":
        has_dlib = importlib.util.find_spec("dlib") is not None
        backend = "insightface" if model_dir is not None or not has_dlib else "dlib"
    if backend == "insightface":
        return InsightFaceDetector(model_dir, det_thresh=det_thresh)
    if backend == "dlib":
        return DlibDetector(dlib_model, upsample=upsample)
    raise ValueError(f"unknown face detector backend {backend!r}; use insightface, dlib or auto")
