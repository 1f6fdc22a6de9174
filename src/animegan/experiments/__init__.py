"""Study tooling: aggregation of Hydra sweeps into comparison tables and plots.

``jobs`` reads a sweep's job folders (arm, seed, last metric values; untrusted data), ``arms``
holds the per-arm statistics over seeds and the verdict rule, ``figures`` draws the plots, and
``ablation`` writes the tables (``aggregate``). Its command line is ``animegan.cli.ablation``.
"""
