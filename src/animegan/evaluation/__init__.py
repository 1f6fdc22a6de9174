"""Evaluation: metric networks (FID/KID/LPIPS/identity), the shared Evaluator, reports, comparisons.

Names are imported lazily on first use, so importing the package does not load torchmetrics,
matplotlib or wandb.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from animegan.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "EvaluationResult": "animegan.evaluation.evaluator",
    "Evaluator": "animegan.evaluation.evaluator",
    "InceptionFeatures": "animegan.evaluation.metrics",
    "LPIPSNetwork": "animegan.evaluation.metrics",
    "RandomConvFeatures": "animegan.evaluation.metrics",
    "ReferenceFeatureCache": "animegan.evaluation.metrics",
    "diversity_lpips": "animegan.evaluation.metrics",
    "frechet_distance": "animegan.evaluation.metrics",
    "identity_similarity": "animegan.evaluation.metrics",
    "inception_cache_path": "animegan.evaluation.metrics",
    "inputs_from_datamodule": "animegan.evaluation.evaluator",
    "kernel_inception_distance": "animegan.evaluation.metrics",
    "lpips_backbone_cache_path": "animegan.evaluation.metrics",
    "write_comparison": "animegan.evaluation.compare",
    "write_report": "animegan.evaluation.report",
}

__all__ = [
    "EvaluationResult",
    "Evaluator",
    "InceptionFeatures",
    "LPIPSNetwork",
    "RandomConvFeatures",
    "ReferenceFeatureCache",
    "diversity_lpips",
    "frechet_distance",
    "identity_similarity",
    "inception_cache_path",
    "inputs_from_datamodule",
    "kernel_inception_distance",
    "lpips_backbone_cache_path",
    "write_comparison",
    "write_report",
]

if TYPE_CHECKING:
    from animegan.evaluation.compare import write_comparison
    from animegan.evaluation.evaluator import EvaluationResult, Evaluator, inputs_from_datamodule
    from animegan.evaluation.metrics import (
        InceptionFeatures,
        LPIPSNetwork,
        RandomConvFeatures,
        ReferenceFeatureCache,
        diversity_lpips,
        frechet_distance,
        identity_similarity,
        inception_cache_path,
        kernel_inception_distance,
        lpips_backbone_cache_path,
    )
    from animegan.evaluation.report import write_report


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
