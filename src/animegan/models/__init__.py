"""Networks: the AnimeGANv2 generators (full, lite), discriminator, frozen VGG19 loss network."""

from __future__ import annotations

from animegan.models.arcface import (
    IResNet,
    iresnet18,
    iresnet34,
    iresnet50,
    iresnet100,
    load_arcface_onnx_weights,
)
from animegan.models.discriminator import Discriminator
from animegan.models.generator import Generator
from animegan.models.generator_io import (
    detect_generator_class,
    export_state_dict,
    generator_layouts,
    load_generator,
)
from animegan.models.generator_lite import GeneratorLite
from animegan.models.vgg import VGG19Features, vgg19_cache_path
from animegan.models.weights import InvalidWeightsError, WeightsNotFoundError, count_parameters

__all__ = [
    "Discriminator",
    "IResNet",
    "InvalidWeightsError",
    "Generator",
    "GeneratorLite",
    "VGG19Features",
    "WeightsNotFoundError",
    "count_parameters",
    "detect_generator_class",
    "export_state_dict",
    "generator_layouts",
    "iresnet18",
    "iresnet34",
    "iresnet50",
    "iresnet100",
    "load_arcface_onnx_weights",
    "load_generator",
    "vgg19_cache_path",
]
