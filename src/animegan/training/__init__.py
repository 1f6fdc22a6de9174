"""Lightning orchestration: the AnimeGANv2 module and training callbacks.

``module.py`` only orchestrates the phases; what it delegates lives beside it: ``loss_inputs.py``
(features, logits and targets the loss terms are fed; the teacher's in ``distillation.py``),
``optimizers.py``, ``schedules.py``, ``numerics.py`` (the NaN-guarded update),
``performance.py`` (channels-last, compile), ``parameters.py`` (who learns), ``step_logging.py``
(log keys), ``checkpoint_state.py`` / ``rng.py`` / ``checkpoint_io.py`` (checkpoints),
``callbacks.py`` / ``eval_callback.py`` / ``loggers.py``.
"""

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
