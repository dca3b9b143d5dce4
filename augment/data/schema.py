"""Schema inference for tables: what kind each column is and what values it may take.

Kinds:
- "continuous": real-valued numbers;
- "integer": numbers whose observed values are all whole (stored as int or float);
- "categorical": strings, categories, booleans, or numbers declared categorical;
- "datetime": timestamps (modelled as continuous time, restored as datetimes);
- "id": all-unique strings, e.g. a customer key. Such a column carries no pattern to
  learn and would be memorised; it must be dropped or declared another kind.

The schema serialises to JSON. Columns are dropped or declared another kind with a
mapping `{"column": kind | "drop"}` given to `infer_schema` (`declared`) by
`augment.data.load_dataset`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from augment.errors import DataError

ColumnKind = Literal["continuous", "integer", "categorical", "datetime", "id"]
KINDS: tuple[str, ...] = ("continuous", "integer", "categorical", "datetime", "id")

# Below this many rows, "every value is unique" says nothing about a column being an ID.
MIN_ROWS_FOR_ID = 20


# Characters of one value (a cell, a category, a label, a name) that `augment inspect`
# shows: a 5 MB text cell would otherwise flood the terminal.
CELL_WIDTH = 40
ELLIPSIS = "..."


def clip(value: Any, width: int = CELL_WIDTH) -> str:
    """`value` as text of at most `width` characters; longer text is cut and ends in '...'."""
    text = str(value)
    return text if len(text) <= width else text[: width - len(ELLIPSIS)] + ELLIPSIS


def clip_strings(value: Any, width: int = CELL_WIDTH) -> tuple[Any, int]:
    """A copy of a JSON-like `value` with every string (and mapping key) longer than `width`
    cut by `clip`; returns (copy, how many strings were cut). A cut key that would collide
    with another key is kept whole."""
    if isinstance(value, str):
        return (value, 0) if len(value) <= width else (clip(value, width), 1)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        cut = 0
        for key, item in value.items():
            new_key, n_key = clip_strings(key, width) if isinstance(key, str) else (key, 0)
            if new_key in out or (n_key and new_key in value):
                new_key, n_key = key, 0
            out[new_key], n_item = clip_strings(item, width)
            cut += n_key + n_item
        return out, cut
    if isinstance(value, list | tuple):
        pairs = [clip_strings(item, width) for item in value]
        return [p[0] for p in pairs], sum(p[1] for p in pairs)
    return value, 0


def to_python(value: Any) -> Any:
    """Turn numpy / pandas scalars into plain JSON-serialisable Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class ColumnSpec:
    """What one column holds.

    Attributes:
        name: column name.
        kind: one of KINDS.
        dtype: the pandas dtype as a string, restored on decoding (e.g. "int64", "str").
        nullable: whether the column has missing values.
        null_rate: share of missing values in [0, 1].
        min, max: observed bounds of numeric / datetime columns (datetimes in ns).
        categories: values of a categorical column without missing: sorted observed
            values, or the declared categories (in order) of a pandas categorical.
        ordered: whether a pandas categorical is ordered.
    """

    name: str
    kind: ColumnKind
    dtype: str
    nullable: bool = False
    null_rate: float = 0.0
    min: float | None = None
    max: float | None = None
    categories: list[Any] | None = None
    ordered: bool = False


@dataclass(frozen=True)
class TableSchema:
    """Ordered column specs of a table plus the name of its target column."""

    columns: list[ColumnSpec]
    target: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise DataError(f"column {name!r} is not in the schema; columns: {self.names}")

    def unmodellable(self) -> list[ColumnSpec]:
        """Columns that must be dropped or declared before a generator can fit."""
        return [c for c in self.columns if c.kind == "id"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=to_python)

    @classmethod
    def from_json(cls, text: str) -> TableSchema:
        try:
            raw = json.loads(text)
            columns = [ColumnSpec(**c) for c in raw["columns"]]
            return cls(columns=columns, target=raw.get("target"), notes=raw.get("notes", []))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise DataError(f"not a valid schema JSON: {err}") from err

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> TableSchema:
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"cannot read schema {path}: {err}") from err
        try:
            return cls.from_json(text)
        except DataError as err:
            raise DataError(f"{path}: {err}") from err


def _looks_like_datetime(values: pd.Series) -> bool:
    """True when every non-null string parses as a date (checked on a sample)."""
    sample = values.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"\d{4}|\d{1,2}[/:-]\d{1,2}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def _as_number(value: Any) -> float | None:
    """`value` as a float when it is a number or a text that reads as one, else None."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def mixed_examples(values: pd.Series) -> tuple[Any, Any] | None:
    """(a numeric value, a non-numeric value) of a text/object column holding both, else None.

    A column read from CSV as text because one cell is not a number (1.5, 2.0, "hello") is
    a data error, not a category set: it is reported unless the user declares its kind.
    Only texts that start like a number (a digit, sign, point, "inf" or "nan") are parsed,
    so an all-text column of a million IDs costs one vectorised pass.
    """
    values = values.dropna()
    numbers: list[Any] = []
    others: list[Any] = []
    texts = values
    if values.dtype == object:  # Python objects: numbers and texts may both be there
        is_text = values.map(lambda v: isinstance(v, str)).astype(bool)
        for value in pd.unique(values[~is_text]):
            (numbers if _as_number(value) is not None else others).append(value)
        texts = values[is_text].astype(str)
    if len(texts):
        starts = texts.str.lstrip().str[:1].isin(list("0123456789+-.iInN"))
        others += texts[~starts].head(1).tolist()
        for value in texts[starts]:
            if numbers and others:
                break
            (numbers if _as_number(value) is not None else others).append(value)
    if numbers and others:
        return to_python(numbers[0]), to_python(others[0])
    return None


def infinite_values(name: str, count: int, rows: int) -> DataError:
    """The one error for a numeric column holding inf / -inf (no generator models them)."""
    return DataError(f"column {name!r}: {count} of {rows} rows hold an infinite value (inf/-inf); "
                     "clean them (e.g. leave the cells empty to mark them missing) or declare the "
                     f"column categorical (--declare {name}=categorical)")


def _check_values(series: pd.Series, name: str) -> None:
    """DataError for values no generator can model: infinities, numbers mixed with text."""
    values = series.dropna()
    if pd.api.types.is_float_dtype(series):
        infinite = int(np.isinf(values.to_numpy(dtype=float)).sum())
        if infinite:
            raise infinite_values(name, infinite, len(series))
    elif ((pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype))
          and not isinstance(series.dtype, pd.CategoricalDtype)):  # text; a Categorical is declared
        found = mixed_examples(values)
        if found:
            number, text = found
            raise DataError(
                f"column {name!r} mixes numbers and text (e.g. {number!r} and {text!r}); clean "
                f"it or declare its kind (--declare {name}=categorical, or "
                f"declare: {{{name}: categorical}} in params.yaml)")


def infer_column(series: pd.Series, check: bool = True) -> ColumnSpec:
    """Infer the ColumnSpec of one column. An all-missing column is a DataError.

    check: raise a DataError naming the column for infinite values or numbers mixed with
    text (off for a column whose kind the user declares).
    """
    name = str(series.name)
    n = len(series)
    nulls = int(series.isna().sum())
    if n == 0 or nulls == n:
        raise DataError(f"column {name!r} has no values (all {n} rows are missing); drop it")
    if check:
        _check_values(series, name)
    common = dict(name=name, dtype=str(series.dtype), nullable=nulls > 0, null_rate=nulls / n)
    values = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):  # keep the declared order and set
        categories = [to_python(c) for c in series.cat.categories]
        return ColumnSpec(kind="categorical", categories=categories,
                          ordered=bool(series.cat.ordered), **common)
    if pd.api.types.is_bool_dtype(series):
        return ColumnSpec(kind="categorical", categories=_sorted_unique(values), **common)
    if pd.api.types.is_datetime64_any_dtype(series):
        as_ns = values.astype("datetime64[ns]").astype("int64")
        return ColumnSpec(kind="datetime", min=float(as_ns.min()), max=float(as_ns.max()), **common)
    if pd.api.types.is_numeric_dtype(series):
        as_float = values.astype(float)
        whole = bool(np.all(np.mod(as_float, 1.0) == 0.0))
        return ColumnSpec(
            kind="integer" if whole else "continuous",
            min=float(as_float.min()),
            max=float(as_float.max()),
            **common,
        )
    # strings / objects
    unique = values.nunique()
    if unique == len(values) and len(values) >= MIN_ROWS_FOR_ID:
        if _looks_like_datetime(values):
            return ColumnSpec(kind="datetime", **common)
        return ColumnSpec(kind="id", **common)
    if _looks_like_datetime(values) and unique > 50:
        return ColumnSpec(kind="datetime", **common)
    return ColumnSpec(kind="categorical", categories=_sorted_unique(values), **common)


def _sorted_unique(values: pd.Series) -> list[Any]:
    unique = [to_python(v) for v in pd.unique(values)]
    try:
        return sorted(unique)
    except TypeError:  # mixed types: order by their text
        return sorted(unique, key=str)


def infer_schema(X: pd.DataFrame, target: str | None = None,
                 declared: dict[str, str] | None = None, check: bool = True) -> TableSchema:
    """Infer the schema of the feature table `X` (target column excluded by the caller).

    Datetime stored as text is parsed when the column is modelled; ID-like columns are
    reported in `notes` and must be dropped or declared (`load_dataset`'s overrides).

    declared: {column: kind} the user declared; those columns take that kind and skip
        the checks for infinite values and numbers mixed with text.
    check: run those checks on the other columns (off for tables this project wrote from
        a modelled table, e.g. synthetic rows of a column declared categorical).
    """
    declared = dict(declared or {})
    check_overrides(list(map(str, X.columns)), declared)
    if "drop" in declared.values():
        raise DataError("infer_schema takes declared kinds only; drop columns before")
    if X.shape[0] == 0:
        raise DataError("the table has no rows")
    if X.shape[1] == 0:
        raise DataError("the table has no feature columns besides the target")
    duplicated = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
    if duplicated:
        raise DataError(f"the table has duplicated column names {duplicated}; rename them")
    columns = []
    for name in X.columns:
        kind = declared.get(str(name))
        spec = infer_column(X[name], check=check and kind is None)
        if kind is not None and kind != spec.kind:
            spec = _redeclare(X[name], spec, kind)
        elif kind in ("continuous", "integer"):
            _check_values(X[name], spec.name)  # an infinity cannot be declared numeric
        columns.append(spec)
    notes = []
    for spec in columns:
        if spec.name in declared:
            continue
        if spec.kind == "id":
            notes.append(
                f"column {spec.name!r} looks like an ID (every value is unique): drop it "
                f"(--drop {spec.name}) or declare its kind"
            )
        elif spec.kind == "datetime":
            notes.append(f"column {spec.name!r} is a datetime: modelled as continuous time")
    return TableSchema(columns=columns, target=target, notes=notes)


def check_overrides(names: list[str], overrides: Any) -> None:
    """DataError naming the problem unless `overrides` maps columns of `names` to "drop" or
    a kind, and leaves at least one column."""
    if not isinstance(overrides, dict):
        raise DataError(f"schema overrides must be a mapping {{column: 'drop' | kind}}, got "
                        f"{overrides!r}")
    for name, kind in overrides.items():
        if name not in names:
            raise DataError(f"schema override names unknown column {name!r}; columns: {names}")
        if not isinstance(kind, str) or (kind != "drop" and kind not in KINDS):
            raise DataError(
                f"schema override for {name!r} must be 'drop' or one of {list(KINDS)}, got {kind!r}"
            )
    drop = [n for n, k in overrides.items() if k == "drop"]
    if names and len(set(drop)) >= len(set(names)):
        raise DataError(f"no feature columns left after dropping {drop}; keep at least one")


def _redeclare(series: pd.Series, spec: ColumnSpec, kind: str) -> ColumnSpec:
    values = series.dropna()
    if kind == "categorical":
        return replace(spec, kind="categorical", categories=_sorted_unique(values), min=None, max=None)
    if kind in ("continuous", "integer"):
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any():
            bad = values[numeric.isna()].iloc[0]
            raise DataError(f"column {spec.name!r} cannot be declared {kind}: it holds non-numbers "
                            f"(e.g. {to_python(bad)!r})")
        infinite = int(np.isinf(numeric.to_numpy(dtype=float)).sum())
        if infinite:
            raise infinite_values(spec.name, infinite, len(series))
        return replace(spec, kind=kind, categories=None, min=float(numeric.min()),
                       max=float(numeric.max()))
    if kind == "datetime":
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        if parsed.isna().any():
            raise DataError(f"column {spec.name!r} cannot be declared datetime: unparseable values")
        return replace(spec, kind="datetime", categories=None)
    return replace(spec, kind=kind)  # "id": only useful to force a column out
