"""The module's three optimizers (init, generator, discriminator), built from partial factories."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from torch import nn
from torch.optim import Optimizer

# A partial optimizer (Hydra ``_partial_: true``): parameters in, optimizer out.
OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]


class Optimizers(NamedTuple):
    """The module's three optimizers, in ``configure_optimizers`` order."""

    init: Optimizer
    generator: Optimizer
    discriminator: Optimizer


class OptimizerFactories(NamedTuple):
    """The partial optimizers the module is built with, one per :class:`Optimizers` field."""

    init: OptimizerFactory
    generator: OptimizerFactory
    discriminator: OptimizerFactory

    def build(
        self,
        generator_parameters: list[nn.Parameter],
        discriminator: nn.Module,
    ) -> Optimizers:
        """Build the three optimizers.

        Args:
            generator_parameters: the generator's trainable parameters; the init and the GAN
                generator optimizer each get their own optimizer (and state) over them.
            discriminator: the discriminator (all of its parameters learn).

        Returns:
            The optimizers in the order ``init``, ``generator``, ``discriminator`` (the order
            Lightning stores them in checkpoints).
        """
        return Optimizers(
            init=self.init(generator_parameters),
            generator=self.generator(generator_parameters),
            discriminator=self.discriminator(discriminator.parameters()),
        )
