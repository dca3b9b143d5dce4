"""augment: class-conditional synthetic data augmentation.

The library layer: no Airflow, no DVC internals. Heavy modules (torch, GX) are
imported by the submodules that need them, not here, so `import augment` is cheap;
`augment.Augmenter` is imported on first use.
"""

from typing import Any

from augment.errors import AugmentError

__all__ = ["AugmentError", "Augmenter"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Augmenter":
        from augment.augmenter import Augmenter

        return Augmenter
    raise AttributeError(f"module 'augment' has no attribute {name!r}")
