"""experiment=distill_lite through the real CLI (`python -m animegan.cli.train`) on CPU: a
random-weight full generator (.pt in tmp_path) teaches the lite generator for one GAN step."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import torch

from animegan.models import Generator, GeneratorLite, export_state_dict, load_generator

REPO_ROOT = Path(__file__).resolve().parents[2]


def _train(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    cache = tmp_path / "cache"
    command = [
        sys.executable, "-m", "animegan.cli.train", "experiment=distill_lite",
        "model.vgg.weights=random", "metrics=tiny", "logger=csv",
        f"paths.cache_dir={cache}", f"data.root={cache / 'quickstart_dataset'}",
        "data.image_size=32", "data.batch_size=2", "data.num_val_images=2",
        "callbacks.sample_grid.num_images=2", "trainer.max_epochs=1",
        "trainer.limit_train_batches=1", "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false", f"hydra.run.dir={tmp_path / 'run'}", *overrides,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )


def test_distill_lite_one_step_through_the_cli(tmp_path: Path) -> None:
    torch.manual_seed(0)
    teacher = Generator()
    teacher_path = export_state_dict(teacher, tmp_path / "teacher.pt")
    teacher_bytes = teacher_path.read_bytes()

    result = _train(tmp_path, f"module.teacher.path={teacher_path}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    run = tmp_path / "run"
    last = run / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert checkpoint["animegan"]["phase"] == "gan"
    keys = list(checkpoint["state_dict"])
    assert keys and all(key.startswith(("generator.", "discriminator.")) for key in keys)
    # Optimizer states hold the student's and D's parameters only: 3 optimizers, none the teacher's.
    student_tensors = sum(1 for key in keys if key.startswith("generator."))
    init_state, generator_state, _ = checkpoint["optimizer_states"]
    assert len(generator_state["param_groups"][0]["params"]) == student_tensors
    assert len(init_state["param_groups"][0]["params"]) == student_tensors
    # The student is the lite generator and loads like any other; the teacher file is untouched.
    student = load_generator(last)
    assert type(student) is GeneratorLite
    assert sum(p.numel() for p in student.parameters()) == 698_240
    assert teacher_path.read_bytes() == teacher_bytes
    with (run / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    distill = [
        float(r["loss/distill_pixel_step"]) for r in rows if r.get("loss/distill_pixel_step")
    ]
    content = [
        float(r["loss/distill_content_step"]) for r in rows if r.get("loss/distill_content_step")
    ]
    assert distill and 0 < distill[0] <= 2  # mean |student - teacher| of images in [-1, 1]
    assert content and content[0] > 0


def test_missing_teacher_path_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = _train(tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "error: module.teacher.path is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cache").exists()  # stopped before any data work
