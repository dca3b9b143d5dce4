"""The validation gate: synthetic rows pass only when proven valid, realistic, new and useful.

`run_gate` runs the Great Expectations suite derived from the real training split
(see expectations.py), computes the metrics of metrics.py, applies the thresholds of
`GateConfig`, and writes a report folder atomically:

    <out>/gate.json         the GateReport (verdict.py): one check per rule, with the
                            observed value, threshold and pass/fail; all metrics
    <out>/validation.json   every expectation: passed or not, observed vs expected
    <out>/suite.json        the expectation suites as GX JSON
    <out>/gx/...            the GX project, Data Docs under gx/uncommitted/data_docs/
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from augment.config import SEED, SHARE, Range
from augment.data.schema import TableSchema, infer_schema
from augment.errors import DataError
from augment.io import atomic_dir, json_safe
from augment.validate import expectations as ex
from augment.validate import metrics as mx
from augment.validate.verdict import Check, GateReport
from augment.workspace import SUITE_FILE, VALIDATION_FILE

MIN_REAL_ROWS, MIN_HOLDOUT_ROWS = 20, 10  # below these the metrics are noise or fail
PRDC_K = 5  # neighbours of the precision / recall balls
MIN_SYNTHETIC_ROWS = 10  # fewer: the gate fails the set unmeasured (cross-validation folds)


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gate (section `validate` of params.yaml).

    max_exact_copy_share: share of synthetic rows identical to a training row.
    max_duplicate_excess: how far the synthetic set's share of repeated rows may exceed
        the real holdout's (a collapsed generator repeats itself).
    max_detection_auc: ceiling of the real-vs-synthetic classifier AUC (0.5 = ideal).
    min_dcr_ratio: floor of median distance-to-closest-training-record, synthetic over
        real holdout (near 0 = near-copies of training rows).
    utility_confidence: the utility check fails a set only when augmenting lowers
        validation macro-F1 beyond its noise: when even the optimistic one-sided bound
        of the change at this confidence (a paired bootstrap over the validation rows,
        compare.py) lies below -utility_tolerance. A fixed tolerance sat below the
        noise of macro-F1 on a 200-row split and rejected real rows.
    utility_tolerance: harm allowed beyond the noise (macro-F1; 0 = none).
    """

    suite: ex.SuiteConfig = field(default_factory=ex.SuiteConfig)
    max_exact_copy_share: float = 0.05
    max_duplicate_excess: float = 0.05
    max_detection_auc: float = 0.95
    min_dcr_ratio: float = 0.1
    utility_confidence: float = 0.95
    utility_tolerance: float = 0.0
    seed: int = 0

    RANGES: ClassVar[dict[str, Range]] = {
        "max_exact_copy_share": SHARE, "max_duplicate_excess": SHARE, "max_detection_auc": SHARE,
        "utility_confidence": Range(0.5, 0.999), "utility_tolerance": SHARE, "seed": SEED}

    def lowers_utility(self, delta: float) -> bool:
        """Whether a measured macro-F1 change `delta` (augmented minus real-only, e.g. on
        the test split) counts as harm: below -utility_tolerance."""
        return delta < -self.utility_tolerance

    def harms(self, utility: dict[str, Any]) -> bool:
        """Whether the utility figures (metrics.utility) show harm beyond their noise."""
        return utility["augmented_delta_high"] < -self.utility_tolerance


@dataclass(frozen=True)
class LabelledData:
    """Features (DataFrame [N, F] or images [N, ...]) and labels [N]."""

    X: pd.DataFrame | np.ndarray
    y: np.ndarray

    @property
    def is_table(self) -> bool:
        return isinstance(self.X, pd.DataFrame)


def _check_inputs(real: LabelledData, syn: LabelledData, holdout: LabelledData,
                  emptied: bool = False) -> None:
    """Raise a DataError for inputs the gate cannot judge. `emptied`: the per-row filters
    dropped every synthetic row (and say why), so an empty set is a failed gate, not an
    error."""
    for name, part in (("real", real), ("synthetic", syn), ("holdout", holdout)):
        if len(part.X) != len(part.y):
            raise DataError(f"{name} data: {len(part.X)} rows but {len(part.y)} labels")
    if syn.is_table != real.is_table or holdout.is_table != real.is_table:
        raise DataError("real, holdout and synthetic data must all be tables or all be images")
    if len(syn.y) == 0 and not emptied:
        raise DataError("the synthetic set is empty")
    for name, part, least in (("real training", real, MIN_REAL_ROWS), ("real holdout", holdout,
                                                                        MIN_HOLDOUT_ROWS)):
        if len(part.y) < least:
            raise DataError(f"the {name} set has {len(part.y)} rows; the gate's metrics need at "
                            f"least {least} (detection, privacy and utility are not measurable "
                            "on fewer)")


def class_matched(real: LabelledData, syn_y: np.ndarray, seed: int = 0) -> LabelledData:
    """Real rows with the synthetic set's class mix (same classes, same proportions).

    A `balance` request tops up only the minority classes, so the synthetic rows must be
    compared with real rows of those classes, not with the whole real table.
    """
    rng = np.random.default_rng(seed)
    real_y = pd.Series(real.y, dtype=object)
    wanted = pd.Series(syn_y, dtype=object).dropna().value_counts()
    available = {c: np.flatnonzero((real_y == c).to_numpy()) for c in wanted.index}
    available = {c: idx for c, idx in available.items() if len(idx)}
    if not available:
        return real
    scale = min(1.0, min(len(idx) / wanted[c] for c, idx in available.items()))
    picked = np.sort(np.concatenate([
        rng.choice(idx, size=max(1, int(round(wanted[c] * scale))), replace=False)
        for c, idx in available.items()]))
    X = real.X.iloc[picked].reset_index(drop=True) if real.is_table else real.X[picked]
    return LabelledData(X, np.asarray(real.y)[picked])


def run_suite(real: LabelledData, syn: LabelledData, requested: dict, root: Path,
              config: ex.SuiteConfig, schema: TableSchema | None, target: str) -> dict:
    """Run the GX checks of `syn` against expectations derived from `real`."""
    reference = class_matched(real, syn.y)  # distributions of the requested classes
    if real.is_table:
        schema = schema or infer_schema(real.X)
        rows = syn.X.copy()
        rows[target] = syn.y
        expectations = ex.table_expectations(reference.X, real.y, schema, target, config)
        batches = {"rows": (rows, expectations)}
    else:
        stats = ex.image_stats(syn.X, syn.y)
        expectations = ex.image_expectations(real.X, real.y, config, X_reference=reference.X)
        batches = {"image_stats": (stats, expectations)}
    batches["class_counts"] = (ex.class_count_table(syn.y, requested), ex.count_expectations(requested))
    return ex.run_checks(root, batches)


def compute_metrics(real: LabelledData, syn: LabelledData, holdout: LabelledData, seed: int = 0,
                    confidence: float = 0.95, cache: str | Path | None = None) -> dict[str, Any]:
    """Fidelity, detection, privacy and utility figures of `syn` (see metrics.py); `cache`:
    a folder where the utility check keeps its real-only refits (augment/cache.py)."""
    out: dict[str, Any] = {}
    reference = class_matched(real, syn.y, seed)  # same classes and mix as the synthetic rows
    if real.is_table:
        ks, tv = mx.column_ks(reference.X, syn.X), mx.column_tv(reference.X, syn.X)
        out["fidelity"] = {
            "ks": ks, "tv": tv,
            "ks_mean": _mean(ks.values()), "tv_mean": _mean(tv.values()),
            "correlation_distance": mx.correlation_distance(reference.X, syn.X),
        }
    else:
        extractor = mx.image_features(real.X, real.y)
        f_real, f_syn = extractor(class_matched(holdout, syn.y, seed).X), extractor(syn.X)
        few = min(len(f_real), len(f_syn)) <= PRDC_K  # too few rows for k-NN balls
        out["fidelity"] = {"frechet_distance": mx.frechet_distance(f_real, f_syn),
                           **(dict.fromkeys(("precision", "recall", "density", "coverage"),
                                            float("nan")) if few else mx.prdc(f_real, f_syn, PRDC_K))}
    out["detection_auc"] = mx.detection_auc(reference.X, syn.X, seed=seed)
    out["privacy"] = mx.privacy(real.X, syn.X, holdout.X)
    out["utility"] = mx.utility(real.X, real.y, syn.X, syn.y, holdout.X, holdout.y, seed=seed,
                                confidence=confidence, cache=cache)
    return out


def _mean(values) -> float | None:
    """Mean of the measured values; None when there are none (no column of that kind)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else None


def threshold_checks(metrics: dict, config: GateConfig) -> list[Check]:
    """One verdict per metric threshold of `config`."""
    privacy, utility = metrics["privacy"], metrics["utility"]
    copies, dcr = privacy["exact_copy_share"], privacy["dcr_ratio"]
    excess = privacy["duplicate_share"] - privacy["holdout_duplicate_share"]
    auc, delta = metrics["detection_auc"], utility["augmented_delta"]
    c = config
    return [
        Check("exact_copy_share", f"exact copies (max {c.max_exact_copy_share:.0%})", copies,
              c.max_exact_copy_share, copies <= c.max_exact_copy_share,
              f"{copies:.1%} of synthetic rows are exact copies of training rows "
              f"(max {c.max_exact_copy_share:.1%})"),
        Check("duplicate_excess", f"repeats beyond real (max {c.max_duplicate_excess:.0%})", excess,
              c.max_duplicate_excess, excess <= c.max_duplicate_excess,
              f"{privacy['duplicate_share']:.1%} of synthetic rows repeat another synthetic row vs "
              f"{privacy['holdout_duplicate_share']:.1%} in real data "
              f"(max excess {c.max_duplicate_excess:.1%}; mode collapse)"),
        Check("dcr_ratio", f"DCR ratio (min {c.min_dcr_ratio})", dcr, c.min_dcr_ratio,
              dcr >= c.min_dcr_ratio,
              f"synthetic rows sit {dcr:.2f}x as far from training rows as real held-out rows do "
              f"(min {c.min_dcr_ratio})" + (": near-copies" if dcr < c.min_dcr_ratio else "")),
        Check("detection_auc", f"detection AUC (max {c.max_detection_auc})", auc,
              c.max_detection_auc, auc <= c.max_detection_auc,
              f"a classifier tells synthetic from real with AUC {auc:.3f} (max {c.max_detection_auc})"),
        Check("utility", f"macro-F1 change, {c.utility_confidence:.0%} upper bound (min "
              f"-{c.utility_tolerance})", delta, -c.utility_tolerance, not c.harms(utility),
              f"augmenting {'lowers' if delta < 0 else 'raises'} validation macro-F1 from "
              f"{utility['real_macro_f1']:.3f} to {utility['augmented_macro_f1']:.3f} "
              f"(change {delta:+.3f}; {c.utility_confidence:.0%} bounds "
              f"{utility['augmented_delta_low']:+.3f}..{utility['augmented_delta_high']:+.3f} "
              f"over {utility['validation_rows']} rows, paired bootstrap"
              + ("): harm beyond noise" if c.harms(utility) else
                 f"; tolerance {c.utility_tolerance})")),
    ]


def suite_failures(suite: dict, shown: int = 4) -> list[str]:
    """Readable failures: one line per failed expectation type and batch, naming columns."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for item in suite["results"]:
        if not item["success"]:
            groups.setdefault((item["batch"], item["expectation"]), []).append(item)
    lines = []
    for (batch, expectation), items in groups.items():
        expected = {k: v for k, v in items[0]["kwargs"].items()
                    if k not in ("column", "mostly") and v is not None and not k.endswith("holdout")}
        if items[0]["column"] is None:
            lines.append(f"{expectation} ({batch}): observed {_short(items[0]['observed'])}, "
                         f"expected {_short(expected)}")
            continue
        detail = "; ".join(f"{i['column']!r}: {_short(i['observed'], 70)}" for i in items[:shown])
        more = f"; and {len(items) - shown} more" if len(items) > shown else ""
        common = {k: v for k, v in expected.items() if k in ("threshold", "type_")}
        lines.append(f"{expectation} failed on {len(items)} column(s) ({batch}) "
                     f"{_short(common) if common else ''}: {detail}{more}")
    return lines


def _short(value: Any, limit: int = 160) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_gate(real: LabelledData, syn: LabelledData, holdout: LabelledData, requested: dict,
             out: str | Path, config: GateConfig | None = None, schema: TableSchema | None = None,
             target: str = "label", holdout_source: str = "validation split", force: bool = False,
             filters: dict[str, Any] | None = None, selection: dict[str, Any] | None = None,
             cache: str | Path | None = None) -> GateReport:
    """Validate `syn` against `real` (training split) and `holdout` (real rows the generator
    never saw, e.g. the validation split).

    Args:
        requested: {class: rows} the synthetic set was asked for.
        out: report folder, replaced atomically (only if it is a gate report, or `force`).
        schema: the real table's schema (declared kinds); inferred when absent.
        target: label column name used in the synthetic table batch.
        holdout_source: where `holdout` came from, recorded in the report.
        filters: the per-row filters' summary (filters.json), recorded in the report.
        selection: the auto policy's choice (selection.json), recorded in the report, so
            publish leaves out rows that did not measurably help.
        cache: a folder where the utility check keeps the real-only classifier's refits,
            so the gates of other generators on the same real rows reuse them.

    Returns:
        the GateReport also written to <out>/gate.json.
    """
    config = config or GateConfig()
    _check_inputs(real, syn, holdout, emptied=bool(filters and filters.get("short")))
    out = Path(out)
    with atomic_dir(out, "gate", force=force) as tmp:
        suite = run_suite(real, syn, requested, tmp, config.suite, schema, target)
        failed = suite_failures(suite)
        n_failed = sum(not r["success"] for r in suite["results"])
        checks = [Check("expectations", "Great Expectations suite", n_failed, 0, n_failed == 0,
                        "; ".join(failed) if failed else
                        f"all {len(suite['results'])} expectations passed")]
        if filters and filters.get("short"):  # the counts check fails too; this says why
            checks.append(Check("filters", "per-row filters filled the request", None, None,
                                False, str(filters["short"])))
        structural = any(r["expectation"] in ("expect_table_columns_to_match_ordered_list",
                                              "expect_column_values_to_be_of_type")
                         and not r["success"] for r in suite["results"])
        metrics: dict[str, Any] = {}
        if structural:
            checks.append(Check("metrics", "metrics computed", None, None, False,
                                "metrics skipped: the synthetic table's columns or types do not match"))
        elif len(syn.y) < MIN_SYNTHETIC_ROWS:
            checks.append(Check("metrics", "metrics computed", None, None, False,
                                f"metrics skipped: {len(syn.y)} synthetic rows; detection, "
                                f"fidelity and privacy need at least {MIN_SYNTHETIC_ROWS}"))
        elif pd.isna(pd.Series(syn.y, dtype=object)).any():
            checks.append(Check("metrics", "metrics computed", None, None, False,
                                "metrics skipped: some synthetic rows have no label"))
        else:
            from threadpoolctl import threadpool_limits

            from augment.validate.compare import CLASSIFIER_THREADS

            with threadpool_limits(CLASSIFIER_THREADS):  # OpenMP spin-waits on busy cores
                metrics = compute_metrics(real, syn, holdout, seed=config.seed,
                                          confidence=config.utility_confidence, cache=cache)
            checks += threshold_checks(metrics, config)
        checks = [Check(c.name, c.label, json_safe(c.observed), json_safe(c.threshold), bool(c.passed),
                        c.message) for c in checks]
        report = GateReport(
            checks=tuple(checks), rows=int(len(syn.y)),
            requested={str(k): int(v) for k, v in requested.items()},
            expectations={"evaluated": len(suite["results"]), "failed": n_failed},
            metrics=json_safe(metrics), data_docs=str(Path(suite["data_docs"]).relative_to(tmp)),
            config=asdict(config), holdout=holdout_source, filters=json_safe(filters or {}),
            selection=json_safe(selection or {}))
        _write(tmp / SUITE_FILE, suite["suites"])
        _write(tmp / VALIDATION_FILE, suite["results"])
        report.save(tmp)
    return replace(report, folder=out)


def _write(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(json_safe(payload), indent=2) + "\n")
