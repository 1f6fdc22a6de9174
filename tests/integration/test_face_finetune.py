"""experiment=face_id_finetune at a tiny budget on CPU: aligned faces, landmarks, identity term."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
import torch

from animegan.cli.train import train
from animegan.data.builtin import build_quickstart_dataset
from animegan.faces.prepare import align_folder
from animegan.models import Generator, export_state_dict

pytest.importorskip("dlib", reason="the offline face detector is in the `faces` extra")
INSIGHTFACE_IMAGES = (
    Path(importlib.util.find_spec("insightface").submodule_search_locations[0]) / "data" / "images"
)


def test_face_id_finetune_tiny(compose_train, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("t1.jpg", "Tom_Hanks_54745.png"):
        (photos / name).write_bytes((INSIGHTFACE_IMAGES / name).read_bytes())
    faces = tmp_path / "faces"
    report = align_folder(photos, faces, size=128, all_faces=True)
    assert len(report["saved"]) >= 6
    anime = (
        build_quickstart_dataset(
            tmp_path / "builtin", image_size=64, num_photos=4, num_anime=8, num_val=2
        )
        / "anime"
    )

    start = tmp_path / "start.pt"
    generator = Generator()
    export_state_dict(generator, start)
    frozen_before = {
        k: v.clone()
        for k, v in generator.state_dict().items()
        if not k.startswith(("block_e", "out_layer"))
    }

    cfg = compose_train(
        [
            "experiment=face_id_finetune",
            f"data.root={tmp_path}",
            f"data.photo_dir={faces}",
            f"data.anime_dir={anime}",
            "data.image_size=128",
            "data.batch_size=2",
            "data.num_workers=0",
            "data.persistent_workers=false",
            "data.pin_memory=false",
            "data.num_val_images=2",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"model.generator.path={start}",
            "model.vgg.weights=random",
            "module.arcface._target_=animegan.models.iresnet18",
            "module.arcface.onnx_path=null",
            "metrics=tiny",
            "callbacks.sample_grid.num_images=2",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.log_every_n_steps=1",
            "trainer.enable_progress_bar=false",
        ],
        tmp_path / "run",
    )
    last = train(cfg)
    with (tmp_path / "run" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    identity = [float(r["loss/identity_step"]) for r in rows if r.get("loss/identity_step")]
    assert identity and all(0.0 <= value <= 2.0 for value in identity)
    assert max(identity) > 0  # faces were found: the term is not masked out everywhere
    state = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
    for key, value in frozen_before.items():
        torch.testing.assert_close(
            state[f"generator.{key}"], value, msg=f"{key} should stay frozen"
        )
    assert not torch.equal(
        state["generator.out_layer.0.weight"], generator.state_dict()["out_layer.0.weight"]
    )
