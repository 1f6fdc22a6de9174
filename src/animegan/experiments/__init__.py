"""Study tooling: aggregation of Hydra sweeps into comparison tables and plots."""
