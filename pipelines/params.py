"""Typed views of params.yaml. Unknown keys and wrong types are errors naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from augment.config import SEED, Range, from_dict, generator_params, load_params
from augment.errors import ConfigError
from augment.sampling import check_policy
from augment.validate.filter_config import FilterConfig
from augment.workspace import check_name

__all__ = ["check_params", "dataset_params", "generator_params", "load_params", "pipeline_params",
           "filter_params", "prepare_params", "publish_params", "sample_params", "train_params"]

DROPPED = "dropped"  # datasets.<ds>.unlabelled: the training rows thin / per_class removed


@dataclass(frozen=True)
class ThinParams:
    """Thin `classes` of the training split to a share `keep` (imbalanced scenario)."""

    classes: list[Any]
    keep: float

    RANGES: ClassVar[dict[str, Range]] = {"keep": Range(0, 1, low_open=True)}


@dataclass(frozen=True)
class DatasetParams:
    """One dataset: where it comes from and how its table is declared."""

    source: str
    target: str | None = None
    drop: list[str] = field(default_factory=list)
    declare: dict[str, str] = field(default_factory=dict)
    thin: ThinParams | None = None
    per_class: int | None = None  # low-data scenario: keep at most this many training rows
    sample: dict[str, Any] = field(default_factory=dict)  # overrides of the `sample` section
    # Unlabelled rows to pretrain on (the prepare stage writes them as the split
    # "unlabelled"): a source like `source`, or "dropped", the rows thin / per_class removed.
    unlabelled: str | None = None

    RANGES: ClassVar[dict[str, Range]] = {"per_class": Range(2)}  # a generator needs 2 per class


@dataclass(frozen=True)
class PrepareParams:
    val: float = 0.15
    test: float = 0.15
    seed: int = 0

    RANGES: ClassVar[dict[str, Range]] = {"val": Range(0, 1, True, True), "test": Range(0, 1, True, True),
                                          "seed": SEED}


def dataset_params(params: dict[str, Any], name: str) -> DatasetParams:
    check_name(name, "dataset")
    datasets = params.get("datasets") or {}
    if not isinstance(datasets, dict):
        raise ConfigError(f"datasets must be a mapping of dataset names, got {datasets!r}")
    if name not in datasets:
        raise ConfigError(f"dataset {name!r} is not in params.yaml datasets: {sorted(datasets)}")
    dp = from_dict(DatasetParams, datasets[name], where=f"datasets.{name}")
    if dp.unlabelled is not None and not dp.unlabelled.strip():
        raise ConfigError(f"datasets.{name}.unlabelled is empty: give a source (builtin:NAME, a "
                          f"file, an image folder) or {DROPPED!r}, or leave the key out")
    if dp.unlabelled == DROPPED and not (dp.thin or dp.per_class):
        raise ConfigError(f"datasets.{name}.unlabelled: {DROPPED!r} takes the training rows that "
                          "thin or per_class remove, and this dataset sets neither")
    return dp


def prepare_params(params: dict[str, Any]) -> PrepareParams:
    return from_dict(PrepareParams, params.get("prepare"), where="prepare")


@dataclass(frozen=True)
class TrainParams:
    """How the train stage trains (the `train` section's keys besides the families).

    warm_start: "previous" starts each model from the same model of the dataset's latest
    published version (`<ds>-vN`, read through DVC), "none" trains from scratch.
    """

    warm_start: Literal["previous", "none"] = "none"


def train_params(params: dict[str, Any]) -> TrainParams:
    train = params.get("train") or {}
    if not isinstance(train, dict):
        raise ConfigError(f"train must be a mapping, got {train!r}")
    return from_dict(TrainParams, {k: train[k] for k in ("warm_start",) if k in train},
                     where="train")


@dataclass(frozen=True)
class PipelineParams:
    """Which datasets and generator families the pipeline runs (the DVC matrix)."""

    datasets: list[str]
    generators: list[str]


@dataclass(frozen=True)
class SampleParams:
    """Class-count policy: balance (every class to `ratio` x the largest) | ratio (`ratio`
    new rows per real row) | counts ({class: n}) | auto (the amount of sampling.
    SEARCH_AMOUNTS that raises validation macro-F1 most beyond its noise; when none does,
    the branch's rows are not published: augment.augmenter.select_amount)."""

    policy: str = "balance"
    ratio: float = 1.0
    counts: dict[str, int] = field(default_factory=dict)
    seed: int = 1
    shards: int = 1  # the DAG draws the rows in this many tasks (same rows as one)

    RANGES: ClassVar[dict[str, Range]] = {"seed": SEED, "shards": Range(1, 256)}


@dataclass(frozen=True)
class PublishParams:
    """select: publish the best passing generator ("best") or every passing one ("all").

    require_all: publish nothing unless every generator passes its gate.
    """

    select: str = "best"
    require_all: bool = False


def pipeline_params(params: dict[str, Any]) -> PipelineParams:
    pp = from_dict(PipelineParams, params.get("pipeline"), where="pipeline")
    for i, name in enumerate(pp.datasets):
        check_name(name, f"pipeline.datasets[{i}]")
    for i, name in enumerate(pp.generators):
        check_name(name, f"pipeline.generators[{i}]")
    return pp


def sample_params(params: dict[str, Any], dataset: str | None = None) -> SampleParams:
    """The `sample` section, with `datasets.<dataset>.sample` overrides applied."""
    section = dict(params.get("sample") or {})
    if dataset is not None:
        section.update(dataset_params(params, dataset).sample)
    sp = from_dict(SampleParams, section, where="sample")
    try:
        check_policy(sp.policy, sp.ratio, sp.counts)
    except ConfigError as err:
        raise ConfigError(f"sample: {err}") from err
    return sp


def filter_params(params: dict[str, Any]) -> FilterConfig:
    """The `filter` section: which per-row filters run in the sample stage, and how."""
    return from_dict(FilterConfig, params.get("filter"), where="filter")


def publish_params(params: dict[str, Any]) -> PublishParams:
    pp = from_dict(PublishParams, params.get("publish"), where="publish")
    if pp.select not in ("best", "all"):
        raise ConfigError(f"publish.select must be best or all, got {pp.select!r}")
    return pp


def check_params(params: dict[str, Any], dataset: str, generators: list[str] | None = None) -> None:
    """Check every section a run over `dataset` reads, before any work; errors name the key.

    generators: the families whose hyperparameters to check (default: pipeline.generators,
    when params has a pipeline section).
    """
    from augment.generators import get_generator

    dataset_params(params, dataset)
    prepare_params(params)
    train_params(params)
    sample_params(params, dataset)
    filter_params(params)
    publish_params(params)
    if generators is None:
        generators = pipeline_params(params).generators if params.get("pipeline") else []
    for name in generators:
        get_generator(name, **generator_params(params, name))
