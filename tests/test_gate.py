"""The validation gate with real Great Expectations runs: what fails, what passes, and why."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from augment.data import load_dataset
from augment.validate.gate import GateConfig, LabelledData, run_gate
from augment.validate.verdict import GateReport


def labelled_table(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Mixed table whose label depends on the features (so utility is measurable)."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.6, n)
    age = rng.integers(18, 80, n).astype("int64")
    colour = pd.Series(rng.choice(["red", "green", "blue"], p=[0.5, 0.3, 0.2], size=n), dtype="str")
    hours = rng.normal(40, 8, n).round(1)
    hours[rng.random(n) < 0.1] = np.nan
    X = pd.DataFrame({"income": income, "age": age, "colour": colour, "hours": hours})
    score = np.log(income) - 10 + (age - 50) / 30 + (colour == "blue") + rng.normal(0, 0.3, n)
    y = np.where(score > 0.4, "yes", "no").astype(object)
    return X, y


@pytest.fixture(scope="module")
def real():
    X, y = labelled_table(900, seed=0)
    return LabelledData(X.iloc[:600].reset_index(drop=True), y[:600]), \
        LabelledData(X.iloc[600:].reset_index(drop=True), y[600:])


def counts(y) -> dict:
    return pd.Series(y).value_counts().to_dict()  # missing labels are not counted


def gate(real, syn: LabelledData, tmp_path, requested=None, **config):
    """The gate of `syn` against the `real` fixture. The tests share one utility cache
    (beside their tmp_path), so the real-only classifier is refitted once, as in the
    validate stages of one dataset (augment/cache.py)."""
    train, holdout = real
    report = run_gate(train, syn, holdout, requested or counts(syn.y), tmp_path / "report",
                      GateConfig(**config), target="label", cache=tmp_path.parent / "refits")
    return report, " | ".join(report.failures)


def test_real_held_out_rows_pass_and_report_is_complete(real, tmp_path):
    X, y = labelled_table(400, seed=7)
    summary, text = gate(real, LabelledData(X, y), tmp_path)
    assert summary.passed, text
    report = tmp_path / "report"
    assert sorted(p.name for p in report.iterdir()) == [
        ".augment.json", "gate.json", "gx", "suite.json", "validation.json"]
    assert summary.data_docs_path == report / "gx/uncommitted/data_docs/local_site/index.html"
    assert summary.data_docs_path.is_file()
    assert summary == GateReport.load(report)
    assert [c.name for c in summary.checks] == ["expectations", "exact_copy_share", "duplicate_excess",
                                                "dcr_ratio", "detection_auc", "utility"]
    auc = summary.check("detection_auc")
    assert auc.passed and auc.threshold == 0.95 and auc.observed == summary.metric("detection_auc")
    assert 0.3 < summary.metric("detection_auc") < 0.7
    assert summary.metric("privacy", "exact_copy_share") == 0
    assert summary.config["utility_confidence"] == 0.95 and summary.holdout == "validation split"
    utility = summary.metrics["utility"]
    assert utility["augmented_delta_low"] <= utility["augmented_delta"] <= utility["augmented_delta_high"]
    assert utility["validation_rows"] == 300
    suite = json.loads((report / "suite.json").read_text())
    assert {"rows", "class_counts"} <= set(suite)
    results = json.loads((report / "validation.json").read_text())
    assert all({"expectation", "success", "observed", "kwargs"} <= set(r) for r in results)


def _variant(seed=7, n=400):
    X, y = labelled_table(n, seed=seed)
    return X.copy(), y.copy()


@pytest.mark.parametrize("case,message", [
    ("out_of_range", "expect_column_values_to_be_between failed on 1 column(s) (rows)"),
    ("unseen_category", "expect_column_values_to_be_in_set failed on 1 column(s) (rows)"),
    ("unknown_label", "expect_column_values_to_be_in_set failed on 1 column(s) (rows)"),
    ("missing_label", "expect_column_values_to_not_be_null failed on 1 column(s) (rows)"),
    ("nan_where_none", "expect_column_values_to_not_be_null failed on 1 column(s) (rows)"),
    ("shifted", "expect_column_kl_divergence_to_be_less_than"),
])
def test_gate_names_the_reason(real, tmp_path, case, message):
    X, y = _variant()
    if case == "out_of_range":
        X.loc[:20, "age"] = 150
    elif case == "unseen_category":
        X.loc[:10, "colour"] = "ultraviolet"
    elif case == "unknown_label":
        y[:5] = "maybe"
    elif case == "missing_label":
        y[:5] = None
    elif case == "nan_where_none":
        X.loc[:40, "income"] = np.nan
    elif case == "shifted":
        X["income"] = X["income"] * 3
    summary, text = gate(real, LabelledData(X, y), tmp_path)
    assert not summary.passed
    assert message in text
    if case in ("unseen_category", "out_of_range", "nan_where_none", "shifted"):
        column = {"unseen_category": "colour", "out_of_range": "age", "nan_where_none": "income",
                  "shifted": "income"}[case]
        assert repr(column) in text


def test_wrong_class_counts_fail(real, tmp_path):
    X, y = _variant()
    requested = counts(y)
    requested["yes"] += 5
    summary, text = gate(real, LabelledData(X, y), tmp_path, requested=requested)
    assert not summary.passed and "expect_column_pair_values_to_be_equal (class_counts)" in text


def test_copies_of_training_rows_fail(real, tmp_path):
    train, _ = real
    summary, text = gate(real, LabelledData(train.X.iloc[:300].reset_index(drop=True),
                                            train.y[:300]), tmp_path)
    assert not summary.passed and "exact copies of training rows" in text


def test_one_row_repeated_fails_as_collapse(real, tmp_path):
    X, y = _variant()
    X = pd.concat([X.iloc[[3]]] * len(X), ignore_index=True)
    y = np.array([y[3]] * len(y), dtype=object)
    summary, text = gate(real, LabelledData(X, y), tmp_path)
    assert not summary.passed and "mode collapse" in text


def test_utility_drop_fails(real, tmp_path):
    X, y = _variant()
    flipped = np.where(y == "yes", "no", "yes").astype(object)  # labels that mislead
    summary, text = gate(real, LabelledData(X, flipped), tmp_path)
    assert not summary.passed and "augmenting lowers validation macro-F1" in text
    assert "harm beyond noise" in text and summary.metric("utility", "augmented_delta_high") < 0


@pytest.mark.parametrize("name", ["breast_cancer", "digits"])
def test_a_real_held_out_split_passes_the_utility_check(name):
    """Real rows of the same data are not harmful: with a fixed tolerance of 0.02 a
    held-out split could fail on the noise of a small validation split alone. The
    utility figures and verdict as run_gate computes them (the other checks are not the
    subject; test_copies_of_training_rows_fail and others run the whole gate)."""
    from augment.data.split import stratified_split
    from augment.validate import metrics

    config = GateConfig()
    ds = load_dataset(f"builtin:{name}")
    for seed in range(3):
        train, val, test = stratified_split(ds, seed=seed)
        utility = metrics.utility(train.X, train.y, test.X, test.y, val.X, val.y,
                                  seed=config.seed, confidence=config.utility_confidence)
        assert not config.harms(utility), utility


def test_real_images_pass_beside_a_small_training_split(tmp_path):
    """200 training images (digits, 20 per class) and 400 real images they lack, the low-
    data bench case: about 1% of fresh real images fall outside the range of 200, which
    a fixed 99% share failed (7 of 400); the share now allows for it."""
    from augment.data.split import per_class_index, stratified_split

    train, val, _ = stratified_split(load_dataset("builtin:digits"), seed=0)
    kept = per_class_index(train, 20, seed=0)
    spare = np.setdiff1d(np.arange(len(train.y)), kept)
    rng = np.random.default_rng(0)
    extra = np.concatenate([rng.permutation(spare[train.y[spare] == c])[:40] for c in train.classes])
    small, real = train.subset(kept), train.subset(np.sort(extra))
    report = run_gate(LabelledData(small.X, small.y), LabelledData(real.X, real.y),
                      LabelledData(val.X, val.y), counts(real.y), tmp_path / "gate")
    assert report.passed, report.failures


def test_images_pass_real_and_fail_out_of_range(tmp_path):
    ds = load_dataset("builtin:digits")
    train = LabelledData(ds.X[:900], ds.y[:900])
    holdout = LabelledData(ds.X[900:1300], ds.y[900:1300])
    syn = LabelledData(ds.X[1300:], ds.y[1300:])
    summary = run_gate(train, syn, holdout, counts(syn.y), tmp_path / "ok", cache=tmp_path / "c")
    assert summary.passed, summary.failures
    bad = syn.X.copy()
    bad[:30] = 40  # brighter than any real pixel
    summary = run_gate(train, LabelledData(bad, syn.y), holdout, counts(syn.y), tmp_path / "bad",
                       cache=tmp_path / "c")
    assert not summary.passed
    assert "expect_column_values_to_be_between" in " ".join(summary.failures)


def test_mismatched_inputs_are_clear_errors(real, tmp_path):
    from augment.errors import DataError

    train, holdout = real
    with pytest.raises(DataError, match="all be tables or all be images"):
        run_gate(train, LabelledData(np.zeros((3, 8, 8)), np.array([0, 1, 0])), holdout, {},
                 tmp_path / "r")
    with pytest.raises(DataError, match="synthetic set is empty"):
        run_gate(train, LabelledData(train.X.iloc[:0], train.y[:0]), holdout, {}, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_real_split_of_a_hard_table_passes_where_a_fixed_tolerance_failed(tmp_path):
    """1,000-row tables whose labels are 45% noise, 200 validation rows: adding 200 real
    rows moves one fit's validation macro-F1 by up to -0.06 (seed 3: 0.674 -> 0.614),
    which a fixed tolerance of 0.02 failed. The check errs at its 5% rate at most."""
    from augment.validate import metrics as mx

    harmed = []
    for seed in range(3, 9):
        X, y = labelled_table(1000, seed=seed)
        rng = np.random.default_rng(seed)
        y = np.where(rng.random(len(y)) < 0.45, rng.choice(["yes", "no"], len(y)), y).astype(object)
        part = [(X.iloc[s].reset_index(drop=True), y[s]) for s in (slice(0, 600), slice(600, 800),
                                                                  slice(800, 1000))]
        (train, val, extra) = part
        utility = mx.utility(*train, *extra, *val, seed=0)
        assert utility["augmented_delta_high"] - utility["augmented_delta_low"] > 0.04  # the noise
        harmed.append(GateConfig().harms(utility))
        if seed == 4:
            report = run_gate(LabelledData(*train), LabelledData(*extra), LabelledData(*val),
                              counts(extra[1]), tmp_path / "r")
            assert report.check("utility").passed, report.check("utility").message
    assert sum(harmed) <= 1, harmed
