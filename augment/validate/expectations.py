"""Great Expectations suites derived from the real training split, and their run.

The synthetic rows are checked as GX batches:
- "rows" (tables): the synthetic table with its label column: column names and
  order, dtypes, value bounds (with a margin), category sets, null-rate bounds,
  label set, and a per-column KL divergence to the real distribution;
- "image_stats" (images): one row per image (shape, dtype, min, max, mean, std,
  label) checked against the real images' ranges and distributions;
- "class_counts": one row per class, requested vs observed rows.

`run_checks` builds a file-mode GX context under a folder, runs one Checkpoint over
all batches, renders Data Docs, and returns a flat summary of every expectation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from augment.config import SHARE, Range
from augment.data.schema import TableSchema, to_python
from augment.io import json_safe


@dataclass(frozen=True)
class SuiteConfig:
    """Tolerances of the expectation suite (section `validate.suite` of params.yaml).

    range_margin: share of the real range allowed beyond the real min / max.
    range_mostly: share of values that must lie within those bounds (new real rows fall
        slightly outside the training range now and then). It is lowered by 2 / (n + 1),
        the expected share of new draws of a distribution that fall outside the range of
        n draws of it: 1% for 200 training images, which made 7 of 400 real images fail.
    image_stats_margin: share of the real range of per-image mean / std allowed beyond
        the real extremes (pixel bounds themselves are exact).
    null_rate_tolerance: how far above the real null rate a column may go.
    kl_threshold: ceiling of the per-column KL divergence to the real distribution.
    kl_bins: number of equal-mass bins for numeric columns.
    """

    range_margin: float = 0.0
    range_mostly: float = 0.99
    image_stats_margin: float = 0.1
    null_rate_tolerance: float = 0.05
    kl_threshold: float = 0.5
    kl_bins: int = 10

    RANGES: ClassVar[dict[str, Range]] = {"range_mostly": SHARE, "kl_bins": Range(2)}


def _gxe():
    import great_expectations.expectations as gxe

    return gxe


def numeric_partition(values: pd.Series, bins: int) -> dict[str, list[float]] | None:
    """Equal-mass bins of the real values and their weights (summing to 1)."""
    values = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if len(values) == 0 or values.min() == values.max():
        return None
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    counts, _ = np.histogram(values, bins=edges)
    weights = counts / counts.sum()
    return {"bins": [float(e) for e in edges], "weights": [float(w) for w in weights]}


def categorical_partition(values: pd.Series) -> dict[str, list] | None:
    freq = values.dropna().value_counts(normalize=True)
    if freq.empty:
        return None
    return {"values": [to_python(v) for v in freq.index], "weights": [float(w) for w in freq]}


def numeric_checks(real: pd.Series, low: float, high: float, margin: float, config: SuiteConfig,
                   partition_from: pd.Series | None = None) -> list:
    """Bounds [low, high] widened by `margin` x range, which a share `range_mostly` less
    2 / (n + 1) must meet (n: the real values the bounds came from), and KL divergence to
    the bins of `partition_from` (default: `real`)."""
    gxe = _gxe()
    pad = margin * (high - low)
    outside = 2.0 / (int(real.notna().sum()) + 1)  # of fresh real values, on average
    mostly = round(max(0.0, config.range_mostly - outside), 6)
    out = [gxe.ExpectColumnValuesToBeBetween(column=real.name, min_value=low - pad,
                                             max_value=high + pad, mostly=mostly)]
    partition = numeric_partition(real if partition_from is None else partition_from, config.kl_bins)
    if partition:
        out.append(gxe.ExpectColumnKLDivergenceToBeLessThan(
            column=real.name, partition_object=partition, threshold=config.kl_threshold,
            internal_weight_holdout=0.01, tail_weight_holdout=0.01))
    return out


def table_expectations(real: pd.DataFrame, y_real: np.ndarray, schema: TableSchema, target: str,
                       config: SuiteConfig) -> list:
    """Expectations for the synthetic table (features + label column `target`)."""
    gxe = _gxe()
    out: list = [gxe.ExpectTableColumnsToMatchOrderedList(column_list=[*schema.names, target])]
    for spec in schema.columns:
        column = spec.name
        out.append(gxe.ExpectColumnValuesToBeOfType(column=column, type_=_type_name(real[column])))
        if spec.null_rate == 0:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
        else:
            mostly = max(0.0, 1.0 - spec.null_rate - config.null_rate_tolerance)
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=round(mostly, 6)))
        if spec.kind in ("continuous", "integer"):
            out += numeric_checks(real[column], spec.min, spec.max, config.range_margin, config)
        elif spec.kind == "categorical":
            out.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(spec.categories)))
            partition = categorical_partition(real[column])
            if partition and spec.dtype != "bool":  # GX's KL cannot take booleans
                out.append(gxe.ExpectColumnKLDivergenceToBeLessThan(
                    column=column, partition_object=partition, threshold=config.kl_threshold))
    classes = sorted({to_python(c) for c in y_real}, key=str)
    out.append(gxe.ExpectColumnValuesToNotBeNull(column=target))
    out.append(gxe.ExpectColumnValuesToBeInSet(column=target, value_set=classes))
    return out


def _type_name(series: pd.Series) -> str:
    """The dtype name GX reports for a pandas column."""
    return "CategoricalDtypeType" if isinstance(series.dtype, pd.CategoricalDtype) else str(series.dtype)


def image_stats(X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """One row per image: shape, dtype, min, max, mean, std (pixel units), label."""
    flat = np.asarray(X).reshape(len(X), -1).astype(np.float64)
    shape = "x".join(map(str, np.asarray(X).shape[1:]))
    return pd.DataFrame({
        "shape": [shape] * len(X),
        "dtype": [str(np.asarray(X).dtype)] * len(X),
        "min": flat.min(axis=1) if len(X) else [],
        "max": flat.max(axis=1) if len(X) else [],
        "mean": flat.mean(axis=1) if len(X) else [],
        "std": flat.std(axis=1) if len(X) else [],
        "label": [str(v) for v in y],
    })


def image_expectations(X_real: np.ndarray, y_real: np.ndarray, config: SuiteConfig,
                       X_reference: np.ndarray | None = None) -> list:
    """Expectations for the per-image statistics table of the synthetic images.

    Bounds and the label set come from all real images; the KL partitions from
    `X_reference` (real images of the synthetic set's class mix) when given.
    """
    gxe = _gxe()
    real = image_stats(X_real, y_real)
    reference = real if X_reference is None else image_stats(X_reference, np.zeros(len(X_reference)))
    low, high = float(np.min(X_real)), float(np.max(X_real))
    out = [
        gxe.ExpectColumnValuesToBeInSet(column="shape", value_set=[real["shape"].iloc[0]]),
        gxe.ExpectColumnValuesToBeInSet(column="dtype", value_set=[real["dtype"].iloc[0]]),
        gxe.ExpectColumnValuesToBeBetween(column="min", min_value=low, max_value=high),
        gxe.ExpectColumnValuesToBeBetween(column="max", min_value=low, max_value=high),
        gxe.ExpectColumnValuesToNotBeNull(column="label"),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=sorted(set(real["label"]))),
    ]
    for column in ("mean", "std"):
        values = real[column]
        out += numeric_checks(values, float(values.min()), float(values.max()),
                              config.image_stats_margin, config, partition_from=reference[column])
    return out


def class_count_table(y_syn: np.ndarray, requested: dict[Any, int]) -> pd.DataFrame:
    """Rows per class: requested vs observed (every requested or observed class)."""
    observed = pd.Series([str(v) for v in y_syn]).value_counts()
    wanted = {str(k): int(v) for k, v in requested.items()}
    classes = sorted(set(wanted) | set(observed.index))
    return pd.DataFrame({
        "class": classes,
        "requested": [wanted.get(c, 0) for c in classes],
        "observed": [int(observed.get(c, 0)) for c in classes],
    })


def count_expectations(requested: dict[Any, int]) -> list:
    gxe = _gxe()
    return [gxe.ExpectColumnPairValuesToBeEqual(column_A="requested", column_B="observed")]


def run_checks(root: Path, batches: dict[str, tuple[pd.DataFrame, list]]) -> dict:
    """Run every batch's expectations in a fresh file-mode GX project under `root`.

    Args:
        root: folder for the GX project (created; Data Docs under gx/uncommitted/...).
        batches: {batch name: (dataframe, expectations)}.

    Returns:
        {"success", "data_docs", "suites": {name: suite JSON},
         "results": [{batch, expectation, column, success, observed, kwargs}]}.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("synthetic")
    definitions, suites = [], {}
    for name, (_, expectations) in batches.items():
        batch_def = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        # the whole suite in one store write: add_expectation rewrites the stored suite
        # each time, quadratic in its length (124 expectations took ~5 s)
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite",
                                                       expectations=list(expectations)))
        suites[name] = suite.to_json_dict()
        definitions.append(context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_validation", data=batch_def, suite=suite)))
    results, success = [], True
    for definition in definitions:  # one batch dataframe per definition
        name = definition.name.removesuffix("_validation")
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"{name}_checkpoint", validation_definitions=[definition],
            result_format="SUMMARY"))
        run = checkpoint.run(batch_parameters={"dataframe": batches[name][0]})
        success = success and bool(run.success)
        for validation in run.run_results.values():
            for item in validation.results:
                config = item.expectation_config
                results.append({
                    "batch": name,
                    "expectation": config.type,
                    "column": config.kwargs.get("column"),
                    "success": bool(item.success),
                    "observed": _observed(item.result),
                    "kwargs": {k: v for k, v in config.kwargs.items()
                               if k not in ("batch_id", "partition_object")},
                })
    context.build_data_docs()  # once, for every batch's stored results
    docs = root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    return {"success": success, "data_docs": str(docs), "suites": suites, "results": results}


def _observed(result: dict) -> Any:
    if "observed_value" in result:
        return _plain(result["observed_value"])
    keys = ("unexpected_count", "unexpected_percent", "partial_unexpected_list")
    return {k: _plain(result[k]) for k in keys if k in result}


def _plain(value: Any) -> Any:
    """JSON-safe (`json_safe`), with long lists cut to their first 10 items for the report."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value[:10]]
    return json_safe(value)
