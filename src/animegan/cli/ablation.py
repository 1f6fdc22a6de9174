"""``python -m animegan.experiments.ablation aggregate SWEEP_DIR [options]``: tabulate a sweep.

The argument parsing of the sweep aggregator (:func:`animegan.experiments.ablation.aggregate`);
``python -m animegan.cli.ablation`` runs the same. Exit status 0, or 2 with one ``error:`` line
for a missing sweep folder, a sweep without metrics or a refused job config.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from animegan.experiments.ablation import aggregate

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``aggregate SWEEP_DIR [options]``, aggregate, print the table; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m animegan.experiments.ablation")
    commands = parser.add_subparsers(dest="command", required=True)
    agg = commands.add_parser("aggregate", help="tabulate and plot every job of a sweep")
    agg.add_argument("sweep_dir", type=Path, help="sweep folder (or a parent of several)")
    agg.add_argument("--out", type=Path, default=None, help="output folder (default: sweep_dir)")
    agg.add_argument(
        "--group-by", default=None, help="config key naming the arm (comma-separated: several)"
    )
    agg.add_argument("--metrics", default=None, help="comma-separated metric columns")
    agg.add_argument("--decisive", default=None, help="the metric that decides")
    agg.add_argument("--mode", choices=["min", "max"], default=None, help="better direction")
    agg.add_argument("--baseline", default=None, help="arm to compare against")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        result = aggregate(
            args.sweep_dir,
            args.out,
            group_by=tuple(k for k in args.group_by.split(",") if k) if args.group_by else None,
            metrics=[m for m in args.metrics.split(",") if m] if args.metrics else None,
            decisive_metric=args.decisive,
            mode=args.mode,
            baseline=args.baseline,
        )
    except (FileNotFoundError, ValueError) as error:  # StoredConfigError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.files["markdown"].read_text())
    for kind, path in result.files.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
