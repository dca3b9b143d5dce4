"""Generator registry: name -> class, imported lazily so `import augment` stays cheap.

A new family is one new module plus one entry in `_FAMILIES`.
"""

from __future__ import annotations

import importlib
from typing import Any

from augment.errors import ConfigError

_FAMILIES: dict[str, str] = {
    "autoregressive": "augment.generators.autoregressive:AutoregressiveGenerator",
    "vae": "augment.generators.vae:VAEGenerator",
    "gan": "augment.generators.gan:GANGenerator",
    "diffusion": "augment.generators.diffusion:DiffusionGenerator",
    "translation": "augment.generators.translation:TranslationGenerator",
}


def available_generators() -> list[str]:
    """Names accepted by `get_generator`."""
    return sorted(_FAMILIES)


def generator_class(name: str) -> type:
    if name not in _FAMILIES:
        raise ConfigError(f"unknown generator {name!r}; available: {', '.join(available_generators())}")
    module_name, class_name = _FAMILIES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def get_generator(name: str, **params: Any):
    """An unfitted generator of family `name` with hyperparameters `params`."""
    return generator_class(name)(**params)
