"""Helpers shared by the Hydra entry points (train, eval): user-error handling."""

from __future__ import annotations

from typing import Any

import hydra
from hydra.errors import InstantiationException

from animegan.data.decode import DatasetNotFoundError
from animegan.models.weights import WeightsNotFoundError

# Errors a user can fix (missing weights, data, files): shown as one clear message, exit code 2.
USER_ERRORS = (WeightsNotFoundError, DatasetNotFoundError, FileNotFoundError)


def instantiate(spec: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that re-raises user-fixable errors unwrapped (clear message)."""
    try:
        return hydra.utils.instantiate(spec, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, USER_ERRORS):
            raise error.__cause__ from None
        raise
