"""``animegan``: one command with subcommands (stylize, export, serve, weights, train, eval).

animegan stylize INPUT... --weights FILE|NAME --out DIR   (photos and videos)
animegan export --weights FILE|NAME --out model.onnx [--int8 --calib DIR]
animegan serve [--weights-dir DIR] [--host 127.0.0.1 --port 7860]
animegan weights list
animegan train [hydra overrides...]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

_USAGE = """usage: animegan {stylize,export,serve,weights,train,eval} ...

subcommands:
  stylize   stylise photos of any size and videos into a folder (animegan stylize --help)
  export    ONNX export with parity check, INT8, or animegan2-pytorch .pt (animegan export --help)
  serve     local web app (Gradio) over the stylize pipeline (animegan serve --help)
  weights   published generators by name: list, download (animegan weights --help)
  train     train a generator (Hydra overrides, e.g. experiment=quickstart)
  eval      evaluate checkpoints (Hydra overrides, e.g. ckpt=last.ckpt)
  prune     structured channel pruning of a generator (animegan prune --help)
"""

# Hydra entry points read sys.argv themselves; they are imported only when asked for.
_HYDRA_COMMANDS = {"train": "animegan.cli.train", "eval": "animegan.cli.eval"}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a subcommand; returns its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "stylize":
        from animegan.cli.stylize import main as stylize_main

        return stylize_main(rest)
    if command == "export":
        from animegan.cli.export import main as export_main

        return export_main(rest)
    if command == "weights":
        from animegan.cli.weights import main as weights_main

        return weights_main(rest)
    if command == "serve":
        from animegan.cli.serve import main as serve_main

        return serve_main(rest)
    if command == "prune":
        from animegan.cli.prune import main as prune_main

        return prune_main(rest)
    if command in _HYDRA_COMMANDS:
        import importlib

        module = importlib.import_module(_HYDRA_COMMANDS[command])
        sys.argv = [f"animegan {command}", *rest]
        module.main()
        return 0
    print(f"error: unknown subcommand {command!r}\n\n{_USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
