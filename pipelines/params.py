"""Typed views of params.yaml. Unknown keys and wrong types are errors naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from augment.config import from_dict
from augment.errors import ConfigError

PARAMS_FILE = Path("params.yaml")


@dataclass(frozen=True)
class ThinParams:
    """Thin `classes` of the training split to a share `keep` (imbalanced scenario)."""

    classes: list[Any]
    keep: float


@dataclass(frozen=True)
class DatasetParams:
    """One dataset: where it comes from and how its table is declared."""

    source: str
    target: str | None = None
    drop: list[str] = field(default_factory=list)
    declare: dict[str, str] = field(default_factory=dict)
    thin: ThinParams | None = None


@dataclass(frozen=True)
class PrepareParams:
    val: float = 0.15
    test: float = 0.15
    seed: int = 0


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no parameter file {path}")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must hold a mapping of sections")
    return params


def dataset_params(params: dict[str, Any], name: str) -> DatasetParams:
    datasets = params.get("datasets") or {}
    if name not in datasets:
        raise ConfigError(f"dataset {name!r} is not in params.yaml datasets: {sorted(datasets)}")
    return from_dict(DatasetParams, datasets[name], where=f"datasets.{name}")


def prepare_params(params: dict[str, Any]) -> PrepareParams:
    return from_dict(PrepareParams, params.get("prepare"), where="prepare")
