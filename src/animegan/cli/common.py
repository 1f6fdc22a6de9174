"""Helpers shared by the Hydra entry points (train, eval): user-error handling, config keys."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

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


# What to do without a group's weight files, added to a missing-weights message from that group.
_OFFLINE_ADVICE: dict[str, str] = {
    "metrics": (
        "Offline without these weights: metrics=tiny (random feature extractors, values "
        "comparable only among themselves) or metrics=none."
    ),
}
_Job = TypeVar("_Job", bound=Callable[..., Any])


def _nodes_naming(tree: Any, owner: str, argument: str, prefix: str = "") -> Iterator[str]:
    """Dotted keys of the config nodes built by ``owner`` that set ``argument``.

    A node is built by ``owner`` when its ``_target_`` ends in it. Interpolations (e.g. the
    callback's ``${metrics}``) are not followed, so each setting is named where the user writes it.
    """
    if isinstance(tree, dict):
        target = tree.get("_target_")
        if isinstance(target, str) and target.rsplit(".", 1)[-1] == owner and argument in tree:
            yield prefix.rstrip(".")
        for key, value in tree.items():
            yield from _nodes_naming(value, owner, argument, f"{prefix}{key}.")
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _nodes_naming(value, owner, argument, f"{prefix}{index}.")


def with_config_keys(error: WeightsNotFoundError, cfg: DictConfig) -> WeightsNotFoundError:
    """The same error, its message ending with the config keys that name the missing file.

    Library code names its own argument (``weights_path``); this adds where that argument is
    set in ``cfg``, e.g. ``Set metrics.fid_features.weights_path=<file>``.

    Args:
        error: raised by :func:`animegan.models.weights.resolve_weights_file` (carries the
            ``owner`` class/function and its ``argument``).
        cfg: the composed config the failing component was built from.

    Returns:
        A new error with the longer message, or ``error`` itself when no config node matches.
    """
    if error.owner is None or error.argument is None:
        return error
    tree = OmegaConf.to_container(cfg, resolve=False)
    nodes = list(dict.fromkeys(_nodes_naming(tree, error.owner, error.argument)))
    if not nodes:
        return error
    keys = " or ".join(f"{node}.{error.argument}=<file>" for node in nodes)
    message = f"{error} Set {keys} (the other arguments named above are keys of {nodes[0]})."
    advice = _OFFLINE_ADVICE.get(nodes[0].split(".", 1)[0])
    return WeightsNotFoundError(
        f"{message} {advice}" if advice else message, owner=error.owner, argument=error.argument
    )


def names_config_keys(job: _Job) -> _Job:
    """Decorate an entry point ``job(cfg, ...)``: missing-weights errors name their config keys.

    Args:
        job: function whose first argument is the composed config.

    Returns:
        ``job``, re-raising a :class:`WeightsNotFoundError` as :func:`with_config_keys` words it.
    """

    @functools.wraps(job)
    def wrapper(cfg: DictConfig, *args: Any, **kwargs: Any) -> Any:
        try:
            return job(cfg, *args, **kwargs)
        except WeightsNotFoundError as error:
            enriched = with_config_keys(error, cfg)
            if enriched is error:
                raise
            raise enriched from error

    return wrapper  # type: ignore[return-value]


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
