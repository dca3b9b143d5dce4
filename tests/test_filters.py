"""Per-row filters (augment/validate/filters.py) with known answers, and in the pipeline.

Real models throughout: a small VAE of the mixed table scores rows; a small diffusion
model draws the rows to filter.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_mixed_table, tiny_pipeline

from augment.config import from_dict
from augment.data.storage import read_split
from augment.errors import ConfigError, DataError
from augment.generators import get_generator
from augment.validate.filter_config import AnomalyConfig, FilterConfig, MemorisationConfig
from augment.validate.filters import (
    AnomalyFilter,
    LabelFilter,
    MemorisationFilter,
    build_filters,
    calibrated_threshold,
    filter_sample,
    fit_filters,
)
from augment.validate.gate import LabelledData
from augment.validate.verdict import GateReport
from augment.workspace import Workspace
from pipelines.params import check_params, filter_params
from pipelines.prepare import prepare
from pipelines.sample import sample
from pipelines.train import train
from pipelines.validate import run_validation

SMALL = {"epochs": 1, "min_steps": 300, "batch_size": 64, "progress": "never"}


@pytest.fixture(scope="module")
def splits() -> tuple[LabelledData, LabelledData, LabelledData]:
    """(train, holdout, test) of the mixed table: 600 / 300 / 300 rows."""
    X, y = make_mixed_table(1200, seed=3)

    def part(a: int, b: int) -> LabelledData:
        return LabelledData(X.iloc[a:b].reset_index(drop=True), y[a:b])

    return part(0, 600), part(600, 900), part(900, 1200)


@pytest.fixture(scope="module")
def vae(splits):
    train, _, _ = splits
    return get_generator("vae", **SMALL).fit(train.X, train.y)


@pytest.fixture(scope="module")
def generator(splits):
    train, _, _ = splits
    return get_generator("diffusion", **SMALL).fit(train.X, train.y)


def test_an_exact_copy_is_always_dropped(splits):
    train, holdout, _ = splits
    guard = MemorisationFilter(alpha=0.0).fit(train, holdout)
    assert guard.threshold_ == 0.0
    scores = guard.score(train.X.iloc[:50], train.y[:50])
    assert (scores == -1).all() and guard.flags(scores).all()
    fresh = guard.score(holdout.X, holdout.y)
    assert not guard.flags(fresh).any()  # alpha 0: only copies go


def test_real_rows_pass_at_the_calibrated_rate(splits, vae):
    train, holdout, test = splits
    for f, share in ((AnomalyFilter(q=0.9, model=vae), 0.9),
                     (MemorisationFilter(alpha=0.1), 0.9),
                     (LabelFilter(p=1.0, q=0.9), 0.9)):
        f.fit(train, holdout)
        assert f.holdout_pass_ == pytest.approx(share, abs=0.01), f.name
        passed = 1 - f.flags(f.score(test.X, test.y)).mean()  # new real rows: about the same
        assert abs(passed - share) < 0.08, (f.name, passed)


def test_the_threshold_is_a_conformal_quantile_of_the_holdout():
    scores = np.arange(1.0, 200.0)  # 199 holdout rows: k = floor(0.01 x 200) = 2
    assert calibrated_threshold(scores, 0.01, higher_is_worse=True) == 198.0  # 1 row above
    assert calibrated_threshold(scores, 0.01, higher_is_worse=False) == 2.0  # 1 row below
    small = np.array([3.0, 1.0, np.nan, 2.0])  # fewer rows than 1 / share: beyond them all
    assert calibrated_threshold(small, 0.01, higher_is_worse=False) == -np.inf  # NaN: worst
    assert calibrated_threshold(small, 0.01, higher_is_worse=True) == np.inf
    assert calibrated_threshold(small[[0, 1, 3]], 0.01, higher_is_worse=True) == 3.0


def test_the_anomaly_filter_flags_rows_outside_the_data(splits, vae):
    train, holdout, _ = splits
    f = AnomalyFilter(q=0.99, model=vae).fit(train, holdout)
    X = holdout.X.copy()
    X["income"] = X["income"] * 1e4  # far outside the training range
    assert f.flags(f.score(X, holdout.y)).mean() > 0.9


def test_the_copula_view_flags_columns_shuffled_apart():
    rng = np.random.default_rng(0)
    a = rng.normal(size=900)
    X = pd.DataFrame({"a": a, "b": a + rng.normal(0, 0.1, 900), "c": -a + rng.normal(0, 0.1, 900),
                      "d": rng.normal(size=900)})
    y = np.where(rng.random(900) < 0.5, "x", "z").astype(object)
    train = LabelledData(X.iloc[:600], y[:600])
    holdout = LabelledData(X.iloc[600:].reset_index(drop=True), y[600:])
    vae = get_generator("vae", **SMALL).fit(train.X, train.y)
    shuffled = pd.DataFrame({c: holdout.X[c].to_numpy()[rng.permutation(300)] for c in X.columns})
    caught = {}
    for copula in (False, True):
        f = AnomalyFilter(q=0.99, model=vae, copula=copula).fit(train, holdout)
        assert f.holdout_pass_ >= 0.98  # both views together still pass q of the real rows
        caught[copula] = f.flags(f.score(shuffled, holdout.y)).mean()
    # ~3% of shuffled rows fall near the line a = b = -c by chance, and the threshold on
    # the larger of three views sits above each view's own q quantile
    assert caught[True] >= 0.85 and caught[True] > caught[False] + 0.5, caught


def test_the_margin_view_flags_rows_another_class_explains_better():
    rng = np.random.default_rng(1)
    y = np.where(rng.random(900) < 0.5, "x", "z").astype(object)
    centre = np.where(y == "x", -1.5, 1.5)
    X = pd.DataFrame({"a": centre + rng.normal(0, 0.5, 900), "b": -centre + rng.normal(0, 0.5, 900)})
    train = LabelledData(X.iloc[:600], y[:600])
    holdout = LabelledData(X.iloc[600:].reset_index(drop=True), y[600:])
    vae = get_generator("vae", **SMALL).fit(train.X, train.y)
    swapped = np.where(holdout.y == "x", "z", "x").astype(object)
    caught = {}
    for margin in (False, True):
        f = AnomalyFilter(q=0.99, model=vae, copula=False, margin=margin).fit(train, holdout)
        assert f.holdout_pass_ >= 0.98
        caught[margin] = f.flags(f.score(holdout.X, swapped)).mean()
    assert caught[True] > 0.9 and caught[True] >= caught[False]


def test_the_anomaly_filter_reuses_a_vae_generator(splits, vae):
    train, holdout, _ = splits
    assert [f.name for f in build_filters(FilterConfig(), vae)] == ["memorisation"]  # default
    both = FilterConfig(anomaly=AnomalyConfig(enabled=True))
    filters = build_filters(both, vae)
    assert isinstance(filters[0], AnomalyFilter) and filters[0].model is vae
    assert [f.name for f in filters] == ["anomaly", "memorisation"]
    other = build_filters(both, get_generator("gan"))
    assert other[0].model is None  # not a VAE: one is trained on the real rows


def test_images_noise_and_wrong_labels_score_badly(tiny_images):
    X, y = tiny_images  # the class decides where the bright square is
    gen = get_generator("vae", **SMALL).fit(X[::2], y[::2])
    f = AnomalyFilter(q=0.95, model=gen).fit(LabelledData(X[::2], y[::2]), LabelledData(X[1::2], y[1::2]))
    noise = np.random.default_rng(0).integers(0, 256, size=(20, 8, 8)).astype(np.uint8)
    assert f.flags(f.score(noise, y[:20])).all()
    right, wrong = f.score(X[1::2], y[1::2]), f.score(X[1::2], (y[1::2] + 1) % 3)
    assert (wrong > right).mean() > 0.9


def test_counts_stay_exact_and_deterministic_after_drops(splits, generator):
    train, holdout, _ = splits
    config = FilterConfig(anomaly=AnomalyConfig(enabled=True),
                          memorisation=MemorisationConfig(alpha=0.5))  # drops about half
    filters = fit_filters(build_filters(config, generator, SMALL), train, holdout)
    counts = {"major": 40, "minor": 60, "rare": 30}
    X, y, summary, (X_drop, y_drop, scores) = filter_sample(generator, counts, 7, filters, config)
    assert dict(zip(*np.unique(y, return_counts=True), strict=True)) == counts
    assert list(dict.fromkeys(y.tolist())) == list(counts)  # grouped in the order asked
    assert summary.rounds >= 1 and sum(summary.dropped.values()) > 0
    assert summary.kept == {k: v for k, v in counts.items()}
    assert summary.filters["memorisation"]["share_all"] > 0.2
    kept = [f for f in filters if f.name == "memorisation"][0]
    assert not kept.flags(kept.score(X, y)).any()  # no flagged row survives
    assert len(y_drop) and set(summary.worst) == {"anomaly", "memorisation"}
    again = filter_sample(generator, counts, 7, filters, config)
    pd.testing.assert_frame_equal(X, again[0])
    assert summary == again[2]
    other = filter_sample(generator, counts, 8, filters, config)
    assert not X.equals(other[0])


class DropClass:
    """A filter flagging every row of one class (drives the refill loop to its limit)."""

    name, threshold_, holdout_pass_, higher_is_worse = "drop_class", 0.5, 1.0, True

    def __init__(self, label: str) -> None:
        self.label = label

    def fit(self, train, holdout):
        return self

    def score(self, X, y):
        return (np.asarray(y) == self.label).astype(float)

    def flags(self, scores):
        return scores > self.threshold_


def test_a_class_that_cannot_be_filled_is_an_error_naming_it(generator):
    with pytest.raises(DataError, match=r"class 'rare': 0/30 rows kept, 100% of .* dropped .*drop_class"):
        filter_sample(generator, {"major": 10, "rare": 30}, 0, [DropClass("rare")])
    # rows given and nothing to refill from: the class stays short, no error
    X, y = generator.sample({"major": 10, "rare": 5}, seed=0)
    _, kept, summary, _ = filter_sample(None, {"major": 10, "rare": 5}, 0, [DropClass("rare")],
                                        first=(X, y))
    assert kept.tolist() == ["major"] * 10 and summary.kept == {"major": 10, "rare": 0}


def test_filter_params_are_checked():
    assert filter_params({}) == FilterConfig()
    with pytest.raises(ConfigError, match="filter.anomaly.qq"):
        filter_params({"filter": {"anomaly": {"qq": 0.9}}})
    with pytest.raises(ConfigError, match=r"filter.memorisation.alpha must be in \[0, 1\)"):
        filter_params({"filter": {"memorisation": {"alpha": 1.0}}})
    with pytest.raises(ConfigError, match="filter.label.enabled"):
        from_dict(FilterConfig, {"label": {"enabled": "yes"}}, where="filter")


def test_too_small_a_holdout_is_an_error(splits):
    train, holdout, _ = splits
    tiny = LabelledData(holdout.X.iloc[:5], holdout.y[:5])
    with pytest.raises(DataError, match="holdout has 5 rows"):
        fit_filters([MemorisationFilter()], train, tiny)


def test_the_sample_stage_filters_and_the_gate_reports_it(tmp_path):
    """prepare -> train -> sample (filters on) -> validate on a real workspace."""
    params = tiny_pipeline({"iris": {"source": "builtin:iris", "target": "target"}}, ["diffusion"])
    params["train"]["diffusion"] = {"epochs": 1, "min_steps": 400, "batch_size": 32}
    params["train"]["vae"] = dict(params["train"]["diffusion"])  # the anomaly VAE
    params["filter"] = {"anomaly": {"enabled": True},
                        "memorisation": {"alpha": 0.2}}  # on, and dropping enough to refill
    check_params(params, "iris", ["diffusion"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    ws = Workspace(tmp_path)
    prepare(ws, "iris", params)
    train(ws, "iris", "diffusion", params)
    message = sample(ws, "iris", "diffusion", params)
    assert "filters dropped" in message
    folder = ws.synthetic("iris", "diffusion")
    summary = json.loads((folder / "filters.json").read_text())
    assert set(summary["filters"]) == {"anomaly", "memorisation"}
    requested = json.loads((folder / "requested.json").read_text())
    assert summary["kept"] == requested
    syn = read_split(ws.samples("iris", "diffusion"))
    assert dict(zip(*np.unique(syn.y.astype(str), return_counts=True), strict=True)) == requested
    dropped = read_split(ws.dropped("iris", "diffusion"))
    worst = summary["worst"]["memorisation"]
    assert worst and all(0 <= w["row"] < len(dropped.y) and w["nearest_train_row"] >= 0 for w in worst)
    report = run_validation(ws, "iris", "diffusion", params)
    assert GateReport.load(report.folder).filters == summary
    figures = json.loads(ws.gate_metrics("iris", "diffusion").read_text())
    assert figures["filters.memorisation.share"] == summary["filters"]["memorisation"]["share_all"]
    assert "Filters dropped" in report.summary()
    # a request the filters cannot fill: the stage keeps what passed, the gate names why
    params["filter"] = {"memorisation": {"alpha": 0.9}, "max_rounds": 0}  # ~90% dropped
    sample(ws, "iris", "diffusion", params)
    failed = run_validation(ws, "iris", "diffusion", params)
    check = failed.check("filters")
    assert not failed.passed and not check.passed and "rows kept" in check.message
    assert "class" in check.message and "memorisation" in check.message
    # every row dropped: the gate still fails the set with the filters' reason
    params["filter"] = {"memorisation": {"alpha": 0.999}, "max_rounds": 0}
    assert "sampled 0 rows" in sample(ws, "iris", "diffusion", params)
    emptied = run_validation(ws, "iris", "diffusion", params)
    assert emptied.rows == 0 and not emptied.passed and not emptied.check("filters").passed
    # filters off: the generator's own draw, no filter files
    params["filter"] = {"anomaly": {"enabled": False}, "memorisation": {"enabled": False}}
    sample(ws, "iris", "diffusion", params)
    assert not (folder / "filters.json").exists() and ws.dropped("iris", "diffusion") is None


def test_params_yaml_spells_out_every_filter_default():
    root = Path(__file__).resolve().parents[1]
    section = yaml.safe_load((root / "params.yaml").read_text())["filter"]
    assert from_dict(FilterConfig, section, where="filter") == FilterConfig()


def test_the_gate_fails_a_tiny_synthetic_set_unmeasured(splits, tmp_path):
    """What the filters leave of a class can be a few rows: a verdict, not a traceback."""
    from augment.validate.gate import run_gate

    train, holdout, _ = splits
    tiny = LabelledData(holdout.X.iloc[:4].reset_index(drop=True), holdout.y[:4])
    labels, numbers = np.unique(tiny.y, return_counts=True)
    report = run_gate(train, tiny, holdout, dict(zip(labels.tolist(), numbers.tolist(), strict=True)),
                      tmp_path / "gate")
    assert not report.passed and "4 synthetic rows" in report.check("metrics").message


def test_a_set_the_filters_emptied_fails_the_gate_with_their_reason(splits, tmp_path):
    from augment.validate.gate import run_gate

    train, holdout, _ = splits
    empty = LabelledData(train.X.iloc[:0], train.y[:0])
    with pytest.raises(DataError, match="empty"):  # no filter said why: a caller's mistake
        run_gate(train, empty, holdout, {"rare": 5}, tmp_path / "plain")
    why = "class 'rare': 0/5 rows kept, 100% of 50 drawn were dropped (most by the anomaly filter)"
    report = run_gate(train, empty, holdout, {"rare": 5}, tmp_path / "gate", filters={"short": why})
    assert not report.passed and report.rows == 0
    failed = {c.name: c.message for c in report.checks if not c.passed}
    assert failed["filters"] == why and "0 synthetic rows" in failed["metrics"]
