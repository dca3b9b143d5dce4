"""Configuration of the per-row filters (section `filter` of params.yaml); the filters
themselves are in filters.py. Kept apart so reading params.yaml imports no metrics code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from augment.config import SEED, SHARE, Range

FILTERS = ("anomaly", "memorisation", "label")


@dataclass(frozen=True)
class AnomalyConfig:
    """enabled: run the filter; q: share of real holdout rows whose score passes; copula:
    also score the distance to the class's Gaussian in the VAE's encoded space; margin:
    also score how much better another class explains the row (catches wrong labels)."""

    enabled: bool = False
    q: float = 0.99
    copula: bool = True
    margin: bool = True

    RANGES: ClassVar[dict[str, Range]] = {"q": Range(0, 1, low_open=True)}


@dataclass(frozen=True)
class MemorisationConfig:
    """enabled: run the filter; alpha: share of real holdout rows that would be dropped
    (their distance to the training rows is below the threshold). Exact copies always go."""

    enabled: bool = True
    alpha: float = 0.01

    RANGES: ClassVar[dict[str, Range]] = {"alpha": Range(0, 1, high_open=True)}


@dataclass(frozen=True)
class LabelConfig:
    """enabled: run the filter; p: the least probability of the row's own class asked
    for; q: share of real holdout rows that must pass, which lowers the threshold below
    `p` where the classifier is unsure of real rows (a forest on 10 classes gives many
    real digits under 0.5)."""

    enabled: bool = False
    p: float = 0.5
    q: float = 0.99

    RANGES: ClassVar[dict[str, Range]] = {"p": SHARE, "q": SHARE}


@dataclass(frozen=True)
class FilterConfig:
    """The filters and the refill loop.

    max_rounds: sampling rounds after the first before a class that is still short is
        an error. max_draw: at most this many rows drawn per requested row and class.
    shown: the worst dropped rows kept per filter for the report.
    seed: seeds the label classifier, and the anomaly VAE unless its hyperparameters
        carry a seed (the pipeline passes train.vae and train.seed).
    """

    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    memorisation: MemorisationConfig = field(default_factory=MemorisationConfig)
    label: LabelConfig = field(default_factory=LabelConfig)
    max_rounds: int = 8
    max_draw: float = 10.0
    shown: int = 6
    seed: int = 0

    RANGES: ClassVar[dict[str, Range]] = {"max_draw": Range(1), "shown": Range(0), "seed": SEED,
                                          "max_rounds": Range(0)}

    @property
    def enabled(self) -> list[str]:
        return [name for name in FILTERS if getattr(self, name).enabled]
