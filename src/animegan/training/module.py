"""The AnimeGANv2 LightningModule: orchestration of the init and GAN phases only.

No loss formula, network definition, image writing or metric lives here (DESIGN.md §3): losses come
from :class:`animegan.losses.AnimeGANObjective`, networks are injected, sample grids and metrics are
callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.optim import Optimizer

from animegan.losses import AnimeGANObjective, identity_loss
from animegan.training.numerics import NonFiniteGuard, gradients_are_finite, nonfinite_terms
from animegan.training.parameters import set_requires_grad, trainable_tail
from animegan.training.rng import collect_rng_states, restore_rng_states

OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
Phase = Literal["init", "gan"]
# Bumped when the checkpoint layout changes; loaders can refuse what they do not understand.
CHECKPOINT_FORMAT = 1


class AnimeGANModule(L.LightningModule):
    """Alternating AnimeGANv2 optimisation with manual optimisation and explicit phases.

    Phases (by epoch): ``init`` for the first ``init_epochs`` epochs (content-only generator
    pretraining with ``init_optimizer``), then ``gan``: each batch one discriminator update followed by
    one generator update. One generator forward is shared by both updates: the discriminator sees its
    detached output (same values the official recipe recomputes), the generator update back-propagates
    through it.

    Note on step counting: with manual optimisation Lightning's ``global_step`` counts optimizer steps,
    so an init batch adds 1 and a GAN batch adds 2. ``trainer.max_epochs`` and
    ``limit_train_batches`` are the natural budget knobs.

    Args:
        generator: photo → anime network, RGB in [-1, 1].
        discriminator: anime patch critic returning logits.
        feature_extractor: frozen VGG19 conv4_4 features (RGB [-1, 1] in). Kept out of the module's
            registered children on purpose, so it never enters ``state_dict`` (checkpoints),
            ``parameters()`` (optimizers, DDP) or the model summary.
        objective: weights and sums the loss terms.
        init_optimizer / generator_optimizer / discriminator_optimizer: partial optimizers taking
            parameters (Hydra ``_partial_: true``).
        init_epochs: number of content-only epochs (official: 10).
        channels_last: convert networks and inputs to channels-last memory format.
        compile: ``torch.compile`` generator, discriminator and feature extractor, each on its own
            (in place, so state_dict keys do not change). Compiling the whole step is not possible:
            the D and G backward passes share the generator's graph.
        compile_mode: ``torch.compile`` mode (``None`` = default; ``"max-autotune-no-cudagraphs"``
            tunes kernels; CUDA-graph modes are not supported by this step's reused outputs).
        skip_nonfinite: check each update's gradients (after the DDP all-reduce) and skip the
            optimizer step when one is NaN/Inf, with a warning naming the bad loss terms and a
            ``train/skipped_updates`` counter. Costs one host sync per update. Under fp16
            (``16-mixed``) Lightning's GradScaler does this job instead (it must see the
            overflows to lower its scale). A skipped update does not advance ``global_step``.
        max_consecutive_nonfinite: stop with an error after this many skipped updates of one
            kind in a row (0 = never).
        arcface: frozen face-embedding network for the identity term (``None`` = no identity
            term). Like the feature extractor it is not registered (no checkpoint, no optimizer);
            batches must then carry ``landmarks`` [B, 5, 2] (pixels) and ``has_face`` [B].
        trainable_last_blocks: fine-tuning: train only the generator's last N top-level blocks
            (``block_a`` … ``block_e``, ``out_layer``); ``None`` trains all of it.
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
        self.generator_parameters = trainable_tail(generator, trainable_last_blocks)
        self.objective = objective
        self._optimizer_factories = (init_optimizer, generator_optimizer, discriminator_optimizer)
        self.init_epochs = init_epochs
        self.channels_last = channels_last
        self.compile_networks = compile
        self.compile_mode = compile_mode
        self.nonfinite_guard = NonFiniteGuard(max_consecutive_nonfinite) if skip_nonfinite else None
        self.run_config = dict(run_config) if run_config is not None else None
        self._memory_format = torch.channels_last if channels_last else torch.contiguous_format

    # ----------------------------------------------------------------------------------- set-up
    @property
    def phase(self) -> Phase:
        """``"init"`` during the first ``init_epochs`` epochs, ``"gan"`` afterwards."""
        return "init" if self.current_epoch < self.init_epochs else "gan"

    def configure_model(self) -> None:
        if self.channels_last:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
            self.feature_extractor.to(memory_format=torch.channels_last)
        if self.compile_networks:
            for network in (self.generator, self.discriminator, self.feature_extractor):
                network.compile(mode=self.compile_mode)

    def on_fit_start(self) -> None:
        self.feature_extractor.to(self.device)
        self.feature_extractor.eval()
        if self.arcface is not None:
            self.arcface.to(self.device)
            self.arcface.eval()

    def _set_generator_trainable(self, flag: bool) -> None:
        # Only the trainable tail toggles; frozen fine-tuning blocks stay frozen in every phase.
        for parameter in self.generator_parameters:
            parameter.requires_grad_(flag)

    def configure_optimizers(self) -> list[Optimizer]:
        init_factory, generator_factory, discriminator_factory = self._optimizer_factories
        return [
            init_factory(self.generator_parameters),
            generator_factory(self.generator_parameters),
            discriminator_factory(self.discriminator.parameters()),
        ]

    # ------------------------------------------------------------------------------- forward
    def forward(self, photo: Tensor) -> Tensor:
        """Stylize ``photo`` [B, 3, H, W] in [-1, 1]; returns the fake anime, same shape and range."""
        return self.generator(photo)

    def _stylize(self, photo: Tensor) -> Tensor:
        """Generator output in float32 for the loss terms (a no-op without autocast).

        Under bf16 autocast G returns bf16. Cast once here, the photo-space terms (colour's YUV
        weighting, TV's neighbour differences, pixel L1: elementwise ops that autocast leaves in
        their input dtype) compute in fp32 instead of bf16, at the cost of one [B, 3, H, W] copy.
        The values still carry the rounding of G's bf16 layers (TV on identical weights differs
        from fp32 by ~2.8 %, ~5e-6 absolute); VGG and D keep running in bf16.
        """
        return self.generator(photo).float()

    def _prepare(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Images in the configured memory format; other tensors (landmarks, masks) as they are."""
        return {
            key: value.contiguous(memory_format=self._memory_format) if value.dim() == 4 else value
            for key, value in batch.items()
            if isinstance(value, Tensor)
        }

    # -------------------------------------------------------------------------------- phases
    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        images = self._prepare(batch)
        if self.phase == "init":
            terms = self._init_step(images)
        else:
            fake_anime = self._stylize(images["photo"])
            terms = self._discriminator_step(images, fake_anime.detach())
            terms |= self._generator_step(images, fake_anime)
        batch_size = images["photo"].shape[0]
        values = {name: value.detach() for name, value in terms.items()}
        # Step values are this rank's (no per-step all-reduce in the hot loop); epoch means are
        # reduced across ranks once, at epoch end.
        self.log_dict(
            {f"loss/{k}_step": v for k, v in values.items()},
            on_step=True,
            on_epoch=False,
            batch_size=batch_size,
        )
        self.log_dict(
            {f"loss/{k}_epoch": v for k, v in values.items()},
            on_step=False,
            on_epoch=True,
            batch_size=batch_size,
            sync_dist=True,
        )
        self.log("phase_gan", float(self.phase == "gan"), on_step=True, batch_size=batch_size)
        if self.nonfinite_guard is not None:
            self.log(
                "train/skipped_updates",
                float(self.nonfinite_guard.skipped),
                on_step=True,
                batch_size=batch_size,
            )

    def _uses_loss_scaling(self) -> bool:
        """True under fp16 mixed precision, where gradients are scaled until the optimizer step."""
        return getattr(self.trainer.precision_plugin, "scaler", None) is not None

    def _update(
        self,
        optimizer: Optimizer,
        total: Tensor,
        terms: Mapping[str, Tensor],
        parameters: Iterable[nn.Parameter],
        update: str,
    ) -> None:
        """Backward ``total`` and step ``optimizer``, unless the gradients came out NaN/Inf.

        A bad update is skipped (gradients dropped, optimizer state untouched) and reported; the
        decision uses the all-reduced gradients, so all DDP ranks skip together.
        """
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(total)
        guard = self.nonfinite_guard
        if guard is None or self._uses_loss_scaling():
            optimizer.step()  # fp16: the GradScaler unscales, skips inf steps and lowers its scale
            return
        finite = gradients_are_finite(parameters)
        if finite:
            optimizer.step()
        else:
            optimizer.zero_grad(set_to_none=True)
            rank_zero_warn(
                f"skipped the {update} update at step {self.global_step} (epoch "
                f"{self.current_epoch}): NaN/Inf gradients; non-finite loss terms on this rank: "
                f"{nonfinite_terms(terms) or 'none'} ({guard.skipped + 1} skipped so far)"
            )
        guard.record(update, finite)

    def _init_step(self, images: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Content-only generator pretraining (official: 10 epochs at lr 2e-4)."""
        init_optimizer = self.optimizers()[0]
        self._set_generator_trainable(True)
        fake_anime = self._stylize(images["photo"])
        with torch.no_grad():
            photo_features = self.feature_extractor(images["photo"])
        total, terms = self.objective.init_loss(photo_features, self.feature_extractor(fake_anime))
        self._update(init_optimizer, total, terms, self.generator_parameters, "init")
        return terms

    def _discriminator_step(
        self, images: Mapping[str, Tensor], fake_anime: Tensor
    ) -> dict[str, Tensor]:
        """One D update on anime (real) vs fake, anime gray and smoothed anime gray (all fakes)."""
        discriminator_optimizer = self.optimizers()[2]
        set_requires_grad(self.discriminator, True)
        self._set_generator_trainable(False)
        # One batched call over the four inputs: GroupNorm is per-sample, so this equals four calls,
        # and spectral norm runs one power iteration per step instead of four.
        logits = self.discriminator(
            torch.cat(
                [images["anime"], fake_anime, images["anime_gray"], images["anime_smooth_gray"]]
            )
        )
        logits_anime, logits_fake, logits_gray, logits_smooth = logits.chunk(4)
        total, terms = self.objective.discriminator_loss(
            logits_anime=logits_anime,
            logits_fake=logits_fake,
            logits_anime_gray=logits_gray,
            logits_anime_smooth_gray=logits_smooth,
        )
        self._update(
            discriminator_optimizer, total, terms, self.discriminator.parameters(), "discriminator"
        )
        return terms

    def _generator_step(
        self, images: Mapping[str, Tensor], fake_anime: Tensor
    ) -> dict[str, Tensor]:
        """One G update: adversarial + content + style + colour + TV; D frozen, VGG never trains."""
        generator_optimizer = self.optimizers()[1]
        self._set_generator_trainable(True)
        set_requires_grad(self.discriminator, False)
        with torch.no_grad():
            photo_features = self.feature_extractor(images["photo"])
            anime_gray_features = self.feature_extractor(images["anime_gray"])
        total, terms = self.objective.generator_loss(
            photo=images["photo"],
            fake_anime=fake_anime,
            photo_features=photo_features,
            fake_features=self.feature_extractor(fake_anime),
            anime_gray_features=anime_gray_features,
            logits_fake=self.discriminator(fake_anime),
            identity=self._identity_term(images, fake_anime),
        )
        self._update(generator_optimizer, total, terms, self.generator_parameters, "generator")
        set_requires_grad(self.discriminator, True)
        return terms

    def _identity_term(self, images: Mapping[str, Tensor], fake_anime: Tensor) -> Tensor | None:
        """ArcFace identity loss on the photo's landmarks, or None without an ArcFace model."""
        if self.arcface is None:
            return None
        if "landmarks" not in images or "has_face" not in images:
            raise KeyError(
                "the identity term needs 'landmarks' [B, 5, 2] and 'has_face' [B] in each batch; "
                "use a face dataset with landmarks (python -m animegan.cli.align_faces) and "
                "data.landmarks=true"
            )
        return identity_loss(
            self.arcface, images["photo"], fake_anime, images["landmarks"], images["has_face"]
        )

    @torch.no_grad()
    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        """Photo-only terms on the fixed validation photos, logged per epoch as ``val/<term>``."""
        photo = self._prepare(batch)["photo"]
        fake_anime = self._stylize(photo)
        terms = self.objective.photo_terms(
            photo=photo,
            fake_anime=fake_anime,
            photo_features=self.feature_extractor(photo),
            fake_features=self.feature_extractor(fake_anime),
        )
        self.log_dict(
            {f"val/{name}": value for name, value in terms.items()},
            on_epoch=True,
            batch_size=photo.shape[0],
            sync_dist=True,
        )

    def on_validation_start(self) -> None:
        self.feature_extractor.to(self.device)

    # --------------------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["animegan"] = {
            "format": CHECKPOINT_FORMAT,
            "phase": self.phase,
            "init_epochs": self.init_epochs,
            "config": self.run_config,
            "rng_states": collect_rng_states(),
            "skipped_updates": self.nonfinite_guard.skipped if self.nonfinite_guard else 0,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        meta = checkpoint.get("animegan")
        if meta is None:
            raise ValueError(
                "this checkpoint has no 'animegan' section: it was not written by this repository. "
                "Load published generator weights with animegan.models.load_generator instead."
            )
        if meta.get("format", 0) > CHECKPOINT_FORMAT:
            raise ValueError(
                f"checkpoint format {meta['format']} is newer than this code ({CHECKPOINT_FORMAT}); "
                "update the repository to resume it."
            )
        if meta.get("rng_states") is not None:
            restore_rng_states(meta["rng_states"])
        if self.nonfinite_guard is not None:
            self.nonfinite_guard.skipped = int(meta.get("skipped_updates", 0))
