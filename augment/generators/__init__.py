"""Class-conditional generators behind one contract (see `base.Generator`)."""

from augment.generators.registry import available_generators, generator_class, get_generator


def load_generator(path):  # noqa: ANN001, ANN201  (thin lazy wrapper: torch imported on use)
    """Load a saved generator folder; see `augment.generators.base.load_generator`."""
    from augment.generators.base import load_generator as _load

    return _load(path)


__all__ = ["available_generators", "generator_class", "get_generator", "load_generator"]
