"""Evaluation: metric objects (FID/KID/LPIPS/identity), the shared Evaluator, reports, comparisons.

What lives where: ``metric.py`` the metric interface (reset/update/sync/compute); one module per
metric (``fid.py``, ``lpips.py``, ``identity.py``) with its maths and its metric object;
``inception.py`` the FID feature extractors; ``cache.py`` the reference-feature cache;
``distributed.py`` gathering across ranks; ``inputs.py`` the photo/reference lists;
``evaluator.py`` the procedure (stylize, update, gather, compute); ``report.py``,
``compare.py``, ``tables.py``, ``metrics_csv.py``, ``wandb_logging.py`` the outputs and the
training-log reader.

Names are imported lazily on first use, so importing the package does not load torchmetrics,
matplotlib or wandb.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from animegan.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "EvaluationResult": "animegan.evaluation.evaluator",
    "Evaluator": "animegan.evaluation.evaluator",
    "FIDMetric": "animegan.evaluation.fid",
    "IdentityMetric": "animegan.evaluation.identity",
    "InceptionFeatures": "animegan.evaluation.inception",
    "LPIPSMetric": "animegan.evaluation.lpips",
    "LPIPSNetwork": "animegan.evaluation.lpips",
    "Metric": "animegan.evaluation.metric",
    "MetricValues": "animegan.evaluation.metric",
    "RandomConvFeatures": "animegan.evaluation.inception",
    "ReferenceFeatureCache": "animegan.evaluation.cache",
    "diversity_lpips": "animegan.evaluation.lpips",
    "frechet_distance": "animegan.evaluation.fid",
    "identity_similarity": "animegan.evaluation.identity",
    "inception_cache_path": "animegan.evaluation.inception",
    "inputs_from_datamodule": "animegan.evaluation.inputs",
    "kernel_inception_distance": "animegan.evaluation.fid",
    "lpips_backbone_cache_path": "animegan.evaluation.lpips",
    "write_comparison": "animegan.evaluation.compare",
    "write_report": "animegan.evaluation.report",
}

__all__ = [
    "EvaluationResult",
    "Evaluator",
    "FIDMetric",
    "IdentityMetric",
    "InceptionFeatures",
    "LPIPSMetric",
    "LPIPSNetwork",
    "Metric",
    "MetricValues",
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
    from animegan.evaluation.cache import ReferenceFeatureCache
    from animegan.evaluation.compare import write_comparison
    from animegan.evaluation.evaluator import EvaluationResult, Evaluator
    from animegan.evaluation.fid import FIDMetric, frechet_distance, kernel_inception_distance
    from animegan.evaluation.identity import IdentityMetric, identity_similarity
    from animegan.evaluation.inception import (
        InceptionFeatures,
        RandomConvFeatures,
        inception_cache_path,
    )
    from animegan.evaluation.inputs import inputs_from_datamodule
    from animegan.evaluation.lpips import (
        LPIPSMetric,
        LPIPSNetwork,
        diversity_lpips,
        lpips_backbone_cache_path,
    )
    from animegan.evaluation.metric import Metric, MetricValues
    from animegan.evaluation.report import write_report


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
