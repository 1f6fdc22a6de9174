"""Helpers shared by the Hydra entry points (train, eval): user-error handling."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import hydra
from hydra.errors import InstantiationException

from animegan.cli.validate import ConfigValueError
from animegan.data.decode import DatasetNotFoundError
from animegan.models.weights import InvalidWeightsError, WeightsNotFoundError
from animegan.utils.stored_config import StoredConfigError

# Errors a user can fix (missing or unreadable weights, data, files; a bad config value; a stored
# config that is refused): shown as one clear message, exit code 2.
USER_ERRORS = (
    WeightsNotFoundError,
    DatasetNotFoundError,
    FileNotFoundError,
    InvalidWeightsError,  # includes WeightsFileError (empty, truncated, not a torch file)
    StoredConfigError,
    ConfigValueError,
)


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
