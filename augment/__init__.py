"""augment: class-conditional synthetic data augmentation.

The library layer: no Airflow, no DVC internals. Heavy modules (torch, GX) are
imported by the submodules that need them, not here, so `import augment` is cheap.
"""

from augment.errors import AugmentError

__all__ = ["AugmentError"]
__version__ = "0.1.0"
