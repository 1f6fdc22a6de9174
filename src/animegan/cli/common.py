"""Helpers shared by the Hydra entry points (train, eval): user-error handling."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import hydra
from hydra.errors import InstantiationException

from animegan.data.decode import DatasetNotFoundError
from animegan.models.weights import InvalidWeightsError, WeightsNotFoundError

# Errors a user can fix (missing weights, data, files): shown as one clear message, exit code 2.
USER_ERRORS = (WeightsNotFoundError, InvalidWeightsError, DatasetNotFoundError, FileNotFoundError)


def instantiate(spec: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that re-raises user-fixable errors unwrapped (clear message)."""
    try:
        return hydra.utils.instantiate(spec, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, USER_ERRORS):
            raise error.__cause__ from None
        raise


def run_reporting_user_errors(job: Callable[[Any], Any], cfg: Any) -> None:
    """Run ``job(cfg)``; a user-fixable error becomes one clear message and exit code 2."""
    try:
        job(cfg)
    except USER_ERRORS as error:
        logging.getLogger(job.__module__).error("%s", error)
        print(f"\nerror: {error}", file=sys.stderr)
        sys.exit(2)
