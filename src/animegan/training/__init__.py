"""Lightning orchestration: the AnimeGANv2 module and training callbacks."""

from animegan.training.callbacks import SampleGridCallback, SaveConfigCallback
from animegan.training.module import AnimeGANModule
from animegan.training.parameters import set_requires_grad, trainable_tail

__all__ = [
    "AnimeGANModule",
    "SampleGridCallback",
    "SaveConfigCallback",
    "set_requires_grad",
    "trainable_tail",
]
