"""Worker of the 2-process evaluation test, in its own light module: spawned processes import
only this (not the test module with Lightning, Hydra and W&B), which keeps their start-up short."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from animegan.evaluation import LPIPSNetwork, RandomConvFeatures
from animegan.evaluation.evaluator import Evaluator
from animegan.models import load_generator


def tiny_evaluator(cache_dir: Path) -> Evaluator:
    return Evaluator(
        image_size=32,
        batch_size=3,
        fid_features=RandomConvFeatures(num_features=16, input_size=32),
        kid_subsets=10,
        lpips=LPIPSNetwork(backbone="random"),
        diversity_images=4,
        cache_dir=cache_dir,
        num_grid_images=3,
    )


def ddp_worker(rank: int, world: int, init_file: str, args: dict[str, Any]) -> None:
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world
    )
    try:
        result = tiny_evaluator(args["cache_dir"]).evaluate(
            load_generator(args["generator"]), args["photos"], args["references"]
        )
        torch.save(
            {
                "metrics": result.metrics,
                "lpips": [row["lpips_content"] for row in result.per_image],
                "fakes": result.fakes,
                "world_size": result.info["world_size"],
            },
            Path(args["out"]) / f"rank{rank}.pt",
        )
    finally:
        torch.distributed.destroy_process_group()
