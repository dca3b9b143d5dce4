"""Frozen configuration dataclasses built from plain dicts (params.yaml sections), and the
parameter file itself.

`from_dict` rejects unknown keys and wrong types, naming the key, so a typo in
params.yaml fails loudly instead of silently falling back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from augment.errors import ConfigError
from augment.workspace import PARAMS_FILE

T = TypeVar("T")
SEED_MAX = 2**32 - 1  # numpy's SeedSequence and torch both take seeds in [0, 2**32)


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of a numeric field: low <= v <= high (either end open or absent)."""

    low: float | None = 0
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None
                    and (value > self.high or (self.high_open and value == self.high)))

    def __str__(self) -> str:
        def text(v: float) -> str:
            return str(int(v)) if float(v).is_integer() else f"{v:g}"

        low = "-inf" if self.low is None else text(self.low)
        high = "inf" if self.high is None else text(self.high)
        return (f"{'(' if self.low_open or self.low is None else '['}{low}, {high}"
                f"{')' if self.high_open or self.high is None else ']'}")


NON_NEGATIVE = Range(0)  # every numeric field unless its class's RANGES says otherwise
POSITIVE = Range(0, None, low_open=True)
AT_LEAST_ONE = Range(1)
SHARE = Range(0, 1)  # probabilities, shares, AUCs
SEED = Range(0, SEED_MAX)


def check_range(value: Any, allowed: Range, where: str) -> None:
    """ConfigError naming `where`, the value and the allowed range when it lies outside."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if value not in allowed:
        raise ConfigError(f"{where} must be in {allowed}, got {value!r}")


def ranges_of(cls: type) -> dict[str, Range]:
    """The RANGES class attributes along `cls`'s MRO, subclasses winning."""
    merged: dict[str, Range] = {}
    for klass in reversed(cls.__mro__):
        merged.update(getattr(klass, "__dict__", {}).get("RANGES", {}))
    return merged


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Return `value` converted to `annotation` where lossless, else raise ConfigError."""
    origin = get_origin(annotation)
    if annotation is Any:
        return value
    if origin is Literal:
        if value not in get_args(annotation):
            raise ConfigError(f"{where} must be one of {list(get_args(annotation))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if value is None and len(options) < len(get_args(annotation)):
            return None
        if len(options) == 1:  # Optional[X]: X's own, more precise, message
            return _check_type(value, options[0], where)
        for option in options:
            try:
                return _check_type(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} has the wrong type: {value!r} ({type(value).__name__})")
    if annotation is type(None):
        if value is not None:
            raise ConfigError(f"{where} must be null, got {value!r}")
        return None
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        args = get_args(annotation)
        item_type = args[0] if args else Any
        items = [_check_type(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)  # 1e3 in YAML is a float
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, where)
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "") -> T:
    """Build the frozen dataclass `cls` from `data`, checking keys and types.

    Numbers must be finite and inside the field's range: the class attribute
    `RANGES = {field: Range(...)}` (merged along the MRO), non-negative by default.

    Args:
        cls: a dataclass type whose fields all have defaults or appear in `data`.
        data: mapping of field name to value (None means all defaults).
        where: dotted prefix used in error messages, e.g. "train.vae".
    """
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown parameter {', '.join(prefix + k for k in unknown)}; "
            f"known: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    ranges = ranges_of(cls)
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        kwargs[name] = _check_type(value, hints[name], key)
        allowed = ranges.get(name, NON_NEGATIVE)
        items = kwargs[name] if isinstance(kwargs[name], list | tuple) else [kwargs[name]]
        for i, item in enumerate(items):
            check_range(item, allowed, key if items is not kwargs[name] else f"{key}[{i}]")
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required field is missing
        raise ConfigError(f"{where or cls.__name__}: {err}") from err


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """The parsed parameter file (a mapping of sections); a missing or bad file is a ConfigError."""
    import yaml

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


# Keys of the `train` section that are not a family: shared by every family's training.
TRAIN_SHARED = ("seed", "warm_start")


def generator_params(params: dict[str, Any], family: str) -> dict[str, Any]:
    """Hyperparameters of one family: `train.<family>` plus the shared `train.seed`
    (`train.warm_start` says how the stage trains, not what: pipelines.params reads it)."""
    from augment.generators import available_generators

    train = params.get("train") or {}
    unknown = set(train) - {*TRAIN_SHARED, *available_generators()}
    if unknown:
        raise ConfigError(f"unknown parameter {', '.join('train.' + k for k in sorted(unknown))}")
    section = dict(train.get(family) or {})
    if "seed" in train:
        section.setdefault("seed", train["seed"])
    return section
