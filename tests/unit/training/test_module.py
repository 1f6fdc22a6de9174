"""The LightningModule's phases: which network each loss term reaches, VGG frozen, phase switch."""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader

from animegan.losses import AnimeGANObjective
from animegan.training import AnimeGANModule


class _Batches(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        image = lambda: torch.rand(3, 16, 16, generator=generator) * 2 - 1  # noqa: E731
        gray = image().mean(0, keepdim=True).expand(3, -1, -1)
        return {"photo": image(), "anime": image(), "anime_gray": gray, "anime_smooth_gray": gray}


def _frozen_features() -> nn.Module:
    features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2))
    for parameter in features.parameters():
        parameter.requires_grad_(False)
    return features.eval()


class _GradRecorder(L.Callback):
    """Snapshot every parameter's gradient right before each optimizer step.

    Each step is recorded with the index of its optimizer in ``trainer.optimizers`` (the
    ``configure_optimizers`` order: init, generator, discriminator).
    """

    def __init__(self) -> None:
        self.steps: list[tuple[int, dict[str, torch.Tensor | None]]] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        index = trainer.optimizers.index(optimizer)
        grads = {
            name: None if p.grad is None else p.grad.detach().clone()
            for name, p in pl_module.named_parameters()
        }
        self.steps.append((index, grads))


def _module(init_epochs: int, feature_extractor: nn.Module, **overrides: object) -> AnimeGANModule:
    """A tiny module; ``overrides`` replace any constructor argument (networks, objective, ...)."""
    adam = partial(torch.optim.Adam, lr=1e-3)
    arguments: dict[str, object] = {
        "generator": nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh()),
        "discriminator": nn.Conv2d(3, 1, 3, padding=1),
        "objective": AnimeGANObjective({}, {}),
        "init_optimizer": adam,
        "generator_optimizer": adam,
        "discriminator_optimizer": adam,
    }
    return AnimeGANModule(
        feature_extractor=feature_extractor, init_epochs=init_epochs, **(arguments | overrides)
    )


def _trainer(epochs: int, batches: int, *callbacks: L.Callback, **options: object) -> L.Trainer:
    """A quiet CPU trainer without logger; ``options`` go to ``L.Trainer`` (checkpointing off)."""
    defaults: dict[str, object] = {"enable_checkpointing": False}
    return L.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        limit_train_batches=batches,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=list(callbacks),
        **(defaults | options),
    )


def _fit(module: AnimeGANModule, callback: L.Callback, epochs: int, batches: int) -> None:
    _trainer(epochs, batches, callback).fit(module, DataLoader(_Batches(), batch_size=2))


def test_d_terms_reach_d_only_and_g_terms_reach_g_only() -> None:
    features = _frozen_features()
    recorder = _GradRecorder()
    _fit(_module(init_epochs=0, feature_extractor=features), recorder, epochs=1, batches=1)

    (d_index, d_grads), (g_index, g_grads) = recorder.steps
    assert (d_index, g_index) == (2, 1), "each GAN batch: one D update, then one G update"
    generator_names = [name for name in d_grads if name.startswith("generator.")]
    discriminator_names = [name for name in d_grads if name.startswith("discriminator.")]
    # D step: the fake is detached, so no gradient reaches G.
    assert all(d_grads[name] is None for name in generator_names)
    assert all(
        d_grads[name] is not None and d_grads[name].abs().sum() > 0 for name in discriminator_names
    )
    # G step: G gets gradients; D's gradients are untouched (D frozen during the G update).
    assert all(
        g_grads[name] is not None and g_grads[name].abs().sum() > 0 for name in generator_names
    )
    for name in discriminator_names:
        torch.testing.assert_close(g_grads[name], d_grads[name])
    # VGG never trains and is never part of the module's parameters.
    assert all(p.grad is None and not p.requires_grad for p in features.parameters())
    assert not features.training


def test_init_phase_uses_only_the_init_optimizer_then_switches() -> None:
    recorder = _GradRecorder()
    module = _module(init_epochs=1, feature_extractor=_frozen_features())
    _fit(module, recorder, epochs=2, batches=1)
    assert [index for index, _ in recorder.steps] == [0, 2, 1]
    init_grads = recorder.steps[0][1]
    assert all(init_grads[name] is None for name in init_grads if name.startswith("discriminator."))
    assert module.phase == "gan"


def test_feature_extractor_is_not_in_state_dict_or_parameters() -> None:
    features = _frozen_features()
    module = _module(init_epochs=0, feature_extractor=features)
    assert all(not key.startswith("feature_extractor") for key in module.state_dict())
    feature_ids = {id(p) for p in features.parameters()}
    assert not any(id(p) in feature_ids for p in module.parameters())


def test_fine_tuning_trains_only_the_last_generator_blocks() -> None:
    from animegan.models import Generator

    module = _module(
        init_epochs=0,
        feature_extractor=_frozen_features(),
        generator=Generator(),
        trainable_last_blocks=2,
    )
    before = {k: v.clone() for k, v in module.generator.state_dict().items()}
    _fit(module, _GradRecorder(), epochs=1, batches=1)
    after = module.generator.state_dict()
    changed = {key.split(".")[0] for key in before if not torch.equal(before[key], after[key])}
    assert changed == {"block_e", "out_layer"}


class _TinyFaceNet(nn.Module):
    """Stand-in for ArcFace: 112×112 RGB crop -> 16-d embedding (frozen)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 5, stride=4), nn.Flatten(), nn.LazyLinear(16))
        self.net(torch.zeros(1, 3, 112, 112))
        self.requires_grad_(False)

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        return self.net(crop)


class _FaceBatches(_Batches):
    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(index)
        item["landmarks"] = torch.tensor(
            [[5.0, 6.0], [11.0, 6.0], [8.0, 9.0], [6.0, 12.0], [10.0, 12.0]]
        )
        item["has_face"] = torch.tensor(index % 2 == 0)
        return item


def test_identity_term_is_logged_and_reaches_the_generator() -> None:
    module = _module(
        init_epochs=0,
        feature_extractor=_frozen_features(),
        objective=AnimeGANObjective({"identity": 0.5}, {}),
        arcface=_TinyFaceNet(),
    )
    logged: dict[str, float] = {}

    class _Capture(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            logged.update({k: float(v) for k, v in trainer.callback_metrics.items()})

    _trainer(1, 1, _Capture()).fit(module, DataLoader(_FaceBatches(), batch_size=2))
    assert "loss/identity_step" in logged and 0 <= logged["loss/identity_step"] <= 2


class _CompileProbe(nn.Module):
    """Wraps a network and counts its calls, and those that ran as a ``torch.compile`` graph.

    ``torch.compiler.is_compiling()`` is True only while Dynamo traces, so the second counter's
    in-place add is part of the compiled graph (and runs on every compiled call) and never runs
    eagerly. Non-persistent buffers: the state_dict keys stay the wrapped network's.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64), persistent=False)
        self.register_buffer("compiled_calls", torch.zeros((), dtype=torch.int64), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls.add_(1)
        if torch.compiler.is_compiling():
            self.compiled_calls.add_(1)
        return self.network(images)


def test_compiled_channels_last_step_matches_eager_and_keeps_state_dict_keys() -> None:
    """module.compile=true compiles G, D and VGG in place: same keys, same first-step values."""

    def trained(compile_networks: bool) -> tuple[dict[str, torch.Tensor], list[tuple[int, int]]]:
        torch.manual_seed(0)
        networks = [
            _CompileProbe(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh())),
            _CompileProbe(nn.Conv2d(3, 1, 3, padding=1)),
            _CompileProbe(_frozen_features()),
        ]
        generator, discriminator, features = networks
        module = _module(
            init_epochs=0,
            feature_extractor=features,
            generator=generator,
            discriminator=discriminator,
            channels_last=True,
            compile=compile_networks,
        )
        _fit(module, L.Callback(), epochs=1, batches=2)
        calls = [(int(net.calls), int(net.compiled_calls)) for net in networks]
        return module.state_dict(), calls

    (eager, eager_calls), (compiled, compiled_calls) = trained(False), trained(True)
    # Really compiled, each network on its own, not silently eager: every call of G, D and VGG
    # ran as a compiled graph, the same calls as the eager run (which compiles none).
    assert all(calls > 0 and compiled == 0 for calls, compiled in eager_calls)
    assert compiled_calls == [(calls, calls) for calls, _ in eager_calls]
    assert list(eager) == list(compiled)
    for key in eager:
        torch.testing.assert_close(compiled[key], eager[key], rtol=1e-4, atol=1e-5)


def test_teacher_is_frozen_unregistered_and_its_terms_train_the_generator(tmp_path) -> None:
    """module.teacher: never in state_dict, parameters, optimizers or checkpoints; never updated."""
    teacher = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh())
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    module = _module(
        init_epochs=0,
        feature_extractor=_frozen_features(),
        teacher=teacher,
        objective=AnimeGANObjective({"distill_pixel": 10.0, "distill_content": 3.0}, {}),
    )
    assert all(not p.requires_grad for p in teacher.parameters()) and not teacher.training
    assert not any(key.startswith("teacher") for key in module.state_dict())
    teacher_ids = {id(p) for p in teacher.parameters()}
    assert not any(id(p) in teacher_ids for p in module.parameters())
    logged: dict[str, float] = {}

    class _Capture(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            logged.update({k: float(v) for k, v in trainer.callback_metrics.items()})

    trainer = _trainer(1, 2, _Capture(), default_root_dir=tmp_path, enable_checkpointing=True)
    generator_before = {k: v.clone() for k, v in module.generator.state_dict().items()}
    trainer.fit(module, DataLoader(_Batches(), batch_size=2))
    assert logged["loss/distill_pixel_step"] > 0 and logged["loss/distill_content_step"] > 0
    for optimizer in trainer.optimizers:
        in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
        assert not in_optimizer & teacher_ids
    for key, value in teacher.state_dict().items():
        torch.testing.assert_close(value, teacher_before[key], rtol=0, atol=0)
    assert all(p.grad is None for p in teacher.parameters()) and not teacher.training
    assert any(
        not torch.equal(value, generator_before[key])
        for key, value in module.generator.state_dict().items()
    )
    (checkpoint_path,) = (tmp_path / "checkpoints").glob("*.ckpt")
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    assert set(checkpoint["state_dict"]) == set(module.state_dict())  # G and D only
    assert not any("teacher" in key for key in checkpoint["state_dict"])


class _ValidationPhotos(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"photo": torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(index))}


def test_a_gan_epoch_logs_the_documented_keys() -> None:
    """The log keys are the run's output format (metrics.csv, W&B, checkpoint monitors)."""
    trainer = _trainer(1, 2)
    module = _module(init_epochs=0, feature_extractor=_frozen_features())
    trainer.fit(
        module, DataLoader(_Batches(), batch_size=2), DataLoader(_ValidationPhotos(), batch_size=2)
    )
    d_terms = ["d_anime", "d_fake", "d_gray", "d_smooth", "d_total"]
    g_terms = ["g_adv", "content", "style", "color", "tv", "pixel", "g_total"]
    expected = {f"loss/{term}_{when}" for term in d_terms + g_terms for when in ("step", "epoch")}
    expected |= {"train/phase", "train/skipped_updates", "val/content", "val/color", "val/tv"}
    metrics = trainer.callback_metrics
    assert set(metrics) == expected
    assert float(metrics["train/phase"]) == 1.0 and float(metrics["train/skipped_updates"]) == 0.0


def test_optimizers_are_built_in_checkpoint_order_each_with_its_own_state() -> None:
    module = _module(
        init_epochs=1,
        feature_extractor=_frozen_features(),
        init_optimizer=partial(torch.optim.Adam, lr=1e-3),
        generator_optimizer=partial(torch.optim.Adam, lr=2e-4),
        discriminator_optimizer=partial(torch.optim.Adam, lr=4e-4),
    )
    _fit(module, L.Callback(), epochs=2, batches=1)  # one init batch, then one GAN batch
    init, generator, discriminator = (opt.optimizer for opt in module.optimizers())
    learning_rates = [opt.param_groups[0]["lr"] for opt in (init, generator, discriminator)]
    assert learning_rates == [1e-3, 2e-4, 4e-4]

    def parameter_ids(optimizer: torch.optim.Optimizer) -> set[int]:
        return {id(p) for group in optimizer.param_groups for p in group["params"]}

    assert (
        parameter_ids(init)
        == parameter_ids(generator)
        == {id(p) for p in module.generator.parameters()}
    )
    assert parameter_ids(discriminator) == {id(p) for p in module.discriminator.parameters()}
    # The init and generator optimizers share the parameters, not their state: one step each.
    steps = [opt.state_dict()["state"][0]["step"] for opt in (init, generator, discriminator)]
    assert steps == [1, 1, 1]
