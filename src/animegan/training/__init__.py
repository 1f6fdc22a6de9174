"""Lightning orchestration: the AnimeGANv2 module and training callbacks."""

from animegan.training.callbacks import SampleGridCallback, SaveConfigCallback
from animegan.training.eval_callback import EvaluationCallback
from animegan.training.module import AnimeGANModule
from animegan.training.parameters import set_requires_grad, trainable_tail

__all__ = [
    "EvaluationCallback",
    "AnimeGANModule",
    "SampleGridCallback",
    "SaveConfigCallback",
    "set_requires_grad",
    "trainable_tail",
]
