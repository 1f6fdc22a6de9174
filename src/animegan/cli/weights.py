"""``animegan weights``: the published generators known by name, and fetching them.

    animegan weights list             # names, whether each is in the cache, licences
    animegan weights download paprika # fetch into the torch hub cache now (e.g. before going offline)

Exit status: 0 on success, 1 when a download failed, 2 for a usage error (unknown name).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``animegan weights``."""
    parser = argparse.ArgumentParser(
        prog="animegan weights", description="Published generator weights usable by name."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="names, presence in the cache, licences")
    download = sub.add_parser("download", help="fetch published weights into the cache")
    download.add_argument("names", nargs="+", metavar="NAME")
    return parser


def format_listing() -> str:
    """The table ``animegan weights list`` prints: one line per name, then the cache folder."""
    from animegan.models.registry import PUBLISHED_WEIGHTS, cache_path, hub_checkpoint_dir

    width = max(len(name) for name in PUBLISHED_WEIGHTS)
    lines = [f"{'name':<{width}}  {'present':<7}  licence / description"]
    for name, entry in PUBLISHED_WEIGHTS.items():
        present = "yes" if cache_path(name).is_file() else "no"
        lines.append(f"{name:<{width}}  {present:<7}  {entry.licence}")
        lines.append(f"{'':<{width}}  {'':<7}  {entry.description}; {entry.url}")
    lines.append(f"cache: {hub_checkpoint_dir()} (set TORCH_HOME to move it)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``animegan weights``; returns the exit status."""
    args = build_parser().parse_args(argv)
    from animegan.models.registry import PUBLISHED_WEIGHTS, resolve_weights

    if args.action == "list":
        print(format_listing())
        return EXIT_OK
    unknown = [name for name in args.names if name not in PUBLISHED_WEIGHTS]
    if unknown:
        print(
            f"error: unknown name(s) {', '.join(unknown)}; known: {', '.join(PUBLISHED_WEIGHTS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    status = EXIT_OK
    for name in args.names:
        try:
            print(f"{name}: {resolve_weights(name)}")
        except (OSError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            status = EXIT_FAILED
    return status


if __name__ == "__main__":
    sys.exit(main())
