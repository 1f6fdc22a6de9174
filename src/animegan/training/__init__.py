"""Lightning orchestration: the AnimeGANv2 module and training callbacks."""

from animegan.training.callbacks import SampleGridCallback, SaveConfigCallback
from animegan.training.module import AnimeGANModule, set_requires_grad

__all__ = ["AnimeGANModule", "SampleGridCallback", "SaveConfigCallback", "set_requires_grad"]
