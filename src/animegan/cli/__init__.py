"""Entry points: ``animegan <verb>`` and ``python -m animegan.cli.<verb>``.

Argument parsing, the Hydra configs turned into typed library calls, and one ``error:`` line per
user mistake. The only code in the package that reads a DictConfig; what it calls lives in the
other subpackages.
"""
