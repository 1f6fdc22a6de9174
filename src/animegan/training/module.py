"""The AnimeGANv2 LightningModule: orchestration of the init and GAN phases only.

No loss formula, network definition, image writing or metric lives here. The losses are
:class:`animegan.losses.AnimeGANObjective`, the networks are injected, and the other pieces are
in ``training/``: loss inputs (``loss_inputs.py``, the teacher's in ``distillation.py``),
``optimizers.py``, log keys (``step_logging.py``), the NaN guard (``numerics.py``) and the
checkpoint section (``checkpoint_state.py``). Sample grids and metrics are callbacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from animegan.losses import AnimeGANObjective
from animegan.training.checkpoint_state import checkpoint_section, restore_checkpoint_section
from animegan.training.distillation import freeze_teacher
from animegan.training.loss_inputs import (
    content_features,
    discriminator_logits,
    generator_loss_inputs,
    move_frozen,
)
from animegan.training.numerics import NonFiniteGuard, guarded_update
from animegan.training.optimizers import OptimizerFactories, OptimizerFactory, Optimizers
from animegan.training.parameters import set_requires_grad, trainable_tail
from animegan.training.performance import SpeedSettings, to_memory_format
from animegan.training.schedules import LearningRateSchedule, Phase, Schedule, step_schedulers
from animegan.training.step_logging import log_train_terms, log_validation_terms


class AnimeGANModule(L.LightningModule):
    """Alternating AnimeGANv2 optimisation with manual optimisation and explicit phases.

    Phases (by epoch): ``init`` for the first ``init_epochs`` epochs (content-only generator
    pretraining with ``init_optimizer``), then ``gan``: per batch one discriminator update, then
    one generator update. One generator forward serves both: D sees it detached (the values the
    official code recomputes), G back-propagates through it. Lightning's ``global_step`` counts
    optimizer steps: an init batch adds 1, a GAN batch 2; a skipped (non-finite) update none.

    Args:
        generator: photo → anime network, RGB in [-1, 1].
        discriminator: anime patch critic returning logits.
        feature_extractor: frozen VGG19 conv4_4 features (RGB [-1, 1] in). Not registered as a
            child, so it never enters ``state_dict``, ``parameters()`` (optimizers, DDP) or the
            model summary.
        objective: weights and sums the loss terms.
        init_optimizer: partial optimizer (Hydra ``_partial_: true``) of the init phase.
        generator_optimizer: partial optimizer of G in the GAN phase.
        discriminator_optimizer: partial optimizer of D.
        init_epochs: number of content-only epochs (official: 10), >= 0.
        channels_last: networks and images in channels-last memory format.
        compile: ``torch.compile`` G, D and the feature extractor, each on its own.
        compile_mode: ``torch.compile`` mode (``None`` = default).
        skip_nonfinite: skip (and report) an update whose all-reduced gradients hold NaN/Inf;
            one host sync per update. Under fp16 (``16-mixed``) the GradScaler does it instead.
        max_consecutive_nonfinite: stop after this many skipped updates of one kind in a row
            (0 = never).
        arcface: frozen face-embedding network for the identity term (``None`` = none); not
            registered either. Batches then carry ``landmarks`` [B, 5, 2] and ``has_face`` [B].
        trainable_last_blocks: fine-tuning: train only the generator's last N top-level blocks
            (``block_a`` … ``block_e``, ``out_layer``); ``None`` trains all of it.
        teacher: frozen generator whose outputs the generator learns to match (distillation
            terms of the objective; ``None`` = none); frozen here, not registered either.
        schedule: learning rates ``"constant"`` (official) or ``"cosine"`` per phase, stepped
            per epoch (``training/schedules.py``); ``eta_min_ratio``: cosine's final rate / initial.
        run_config: resolved run configuration (plain dict) stored in every checkpoint.
    """

    def __init__(
        self,
        *,
        generator: nn.Module,
        discriminator: nn.Module,
        feature_extractor: nn.Module,
        objective: AnimeGANObjective,
        init_optimizer: OptimizerFactory,
        generator_optimizer: OptimizerFactory,
        discriminator_optimizer: OptimizerFactory,
        init_epochs: int = 10,
        channels_last: bool = False,
        compile: bool = False,
        compile_mode: str | None = None,
        skip_nonfinite: bool = True,
        max_consecutive_nonfinite: int = 20,
        arcface: nn.Module | None = None,
        trainable_last_blocks: int | None = None,
        teacher: nn.Module | None = None,
        schedule: Schedule = "constant",
        eta_min_ratio: float = 0.0,
        run_config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if init_epochs < 0:
            raise ValueError(f"init_epochs must be >= 0, got {init_epochs}")
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        object.__setattr__(self, "feature_extractor", feature_extractor)  # not registered: see Args
        object.__setattr__(self, "arcface", arcface)
        object.__setattr__(self, "teacher", freeze_teacher(teacher))
        self.generator_parameters = trainable_tail(generator, trainable_last_blocks)
        self.objective = objective
        self._optimizer_factories = OptimizerFactories(
            init_optimizer, generator_optimizer, discriminator_optimizer
        )
        self.init_epochs = init_epochs
        self.lr_schedule = LearningRateSchedule(schedule, init_epochs, eta_min_ratio)
        self.speed = SpeedSettings(channels_last, compile, compile_mode)
        self.nonfinite_guard = NonFiniteGuard(max_consecutive_nonfinite) if skip_nonfinite else None
        self.run_config = dict(run_config) if run_config is not None else None

    # ----------------------------------------------------------------------------------- set-up
    @property
    def phase(self) -> Phase:
        """``"init"`` during the first ``init_epochs`` epochs, ``"gan"`` afterwards."""
        return "init" if self.current_epoch < self.init_epochs else "gan"

    def configure_model(self) -> None:
        self.speed.apply((self.generator, self.discriminator, self.feature_extractor))

    def on_fit_start(self) -> None:
        move_frozen((self.feature_extractor, self.arcface, self.teacher), self.device)

    def on_validation_start(self) -> None:
        self.feature_extractor.to(self.device)

    def configure_optimizers(self) -> list[Optimizer] | tuple[list[Optimizer], list[Any]]:
        factories = self._optimizer_factories
        optimizers = list(factories.build(self.generator_parameters, self.discriminator))
        schedulers = self.lr_schedule.build(optimizers, self.trainer.max_epochs)
        return (optimizers, schedulers) if schedulers else optimizers

    def _optimizers(self) -> Optimizers:
        """The three (Lightning-wrapped) optimizers by name."""
        return Optimizers(*self.optimizers())

    def _set_generator_trainable(self, flag: bool) -> None:
        # Only the trainable tail toggles; frozen fine-tuning blocks stay frozen in every phase.
        for parameter in self.generator_parameters:
            parameter.requires_grad_(flag)

    def on_train_epoch_end(self) -> None:
        # Manual optimisation: Lightning saves/restores the schedulers but never steps them.
        # Runs before the checkpoint callbacks' hook, so an epoch's checkpoint holds the stepped state.
        step_schedulers(self.lr_schedulers() or [], self.phase)

    # ------------------------------------------------------------------------------- forward
    def forward(self, photo: Tensor) -> Tensor:
        """Stylize ``photo`` [B, 3, H, W] in [-1, 1]; returns the fake anime, same shape and range."""
        return self.generator(photo)

    def _stylize(self, photo: Tensor) -> Tensor:
        """Generator output in float32 for the loss terms (a no-op without autocast).

        Under bf16 autocast the photo-space terms (colour, TV, pixel: elementwise ops autocast
        leaves in their input dtype) then compute in fp32, for one [B, 3, H, W] copy.
        """
        return self.generator(photo).float()

    # -------------------------------------------------------------------------------- phases
    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        images = to_memory_format(batch, self.speed.memory_format)
        if self.phase == "init":
            terms = self._init_step(images)
        else:
            fake_anime = self._stylize(images["photo"])
            terms = self._discriminator_step(images, fake_anime.detach())
            terms |= self._generator_step(images, fake_anime)
        guard = self.nonfinite_guard
        log_train_terms(self, terms, batch_size=len(images["photo"]), phase=self.phase, guard=guard)

    def _update(
        self,
        optimizer: Optimizer,
        total: Tensor,
        terms: Mapping[str, Tensor],
        parameters: Iterable[nn.Parameter],
        update: str,
    ) -> None:
        """Backward ``total`` and step ``optimizer``, unless the gradients came out NaN/Inf."""
        guard = self.nonfinite_guard
        guarded_update(self, optimizer, total, terms, parameters, guard=guard, update=update)

    def _init_step(self, images: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Content-only generator pretraining (official: 10 epochs at lr 2e-4)."""
        self._set_generator_trainable(True)
        photo = images["photo"]
        fake_anime = self._stylize(photo)
        features = content_features(self.feature_extractor, photo, fake_anime)
        total, terms = self.objective.init_loss(**features, photo=photo, fake_anime=fake_anime)
        self._update(self._optimizers().init, total, terms, self.generator_parameters, "init")
        return terms

    def _discriminator_step(
        self, images: Mapping[str, Tensor], fake_anime: Tensor
    ) -> dict[str, Tensor]:
        """One D update: anime (labelled real) vs fake, anime gray and smoothed anime gray."""
        set_requires_grad(self.discriminator, True)
        self._set_generator_trainable(False)
        logits = discriminator_logits(self.discriminator, images, fake_anime)
        total, terms = self.objective.discriminator_loss(**logits)
        optimizer = self._optimizers().discriminator
        self._update(optimizer, total, terms, self.discriminator.parameters(), "discriminator")
        return terms

    def _generator_step(
        self, images: Mapping[str, Tensor], fake_anime: Tensor
    ) -> dict[str, Tensor]:
        """One G update: adversarial + content + style + colour + TV; D frozen, VGG never trains."""
        self._set_generator_trainable(True)
        set_requires_grad(self.discriminator, False)
        inputs = generator_loss_inputs(
            images, fake_anime, self.feature_extractor, arcface=self.arcface, teacher=self.teacher
        )
        logits_fake = self.discriminator(fake_anime)
        total, terms = self.objective.generator_loss(**inputs, logits_fake=logits_fake)
        optimizer = self._optimizers().generator
        self._update(optimizer, total, terms, self.generator_parameters, "generator")
        set_requires_grad(self.discriminator, True)
        return terms

    @torch.no_grad()
    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        """Photo-only terms on the fixed validation photos, logged per epoch as ``val/<term>``."""
        photo = to_memory_format(batch, self.speed.memory_format)["photo"]
        fake_anime = self._stylize(photo)
        features = content_features(self.feature_extractor, photo, fake_anime)
        terms = self.objective.photo_terms(photo=photo, fake_anime=fake_anime, **features)
        log_validation_terms(self, terms, batch_size=photo.shape[0])

    # --------------------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["animegan"] = checkpoint_section(
            phase=self.phase,
            init_epochs=self.init_epochs,
            run_config=self.run_config,
            skipped_updates=self.nonfinite_guard.skipped if self.nonfinite_guard else 0,
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        section = restore_checkpoint_section(checkpoint)
        if self.nonfinite_guard is not None:
            self.nonfinite_guard.skipped = int(section.get("skipped_updates", 0))
