"""animegan: AnimeGANv2 photo-to-anime experiments on PyTorch Lightning and Hydra.

Subpackages: models, losses, data, faces, training, evaluation, inference, serve, export,
experiments, utils, and cli (the entry points, the only code that reads a DictConfig).
"""
