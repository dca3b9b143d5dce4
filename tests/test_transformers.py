"""TableTransformer and ImageTransformer: exact inverse and valid decoding of any matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from augment.data import ImageTransformer, TableTransformer, infer_schema
from augment.errors import DataError, ModelError


def test_table_round_trip_restores_everything(mixed_table):
    X, _ = mixed_table
    tt = TableTransformer().fit(X)
    Z = tt.transform(X)
    assert Z.dtype == np.float32 and Z.shape == (len(X), tt.output_dim)
    back = tt.inverse_transform(Z)
    assert list(back.columns) == list(X.columns)
    assert back.dtypes.to_dict() == X.dtypes.to_dict()
    for column in X.columns:
        pd.testing.assert_series_equal(back[column].isna(), X[column].isna(), check_names=False)
    for column in ["colour", "flag", "size"]:
        pd.testing.assert_series_equal(back[column], X[column])
    assert list(back["size"].cat.categories) == ["S", "M", "L"]
    for column in ["income", "bimodal", "age", "hours", "score"]:
        a, b = X[column].to_numpy(float), back[column].to_numpy(float)
        ok = ~np.isnan(a)
        span = np.nanmax(a) - np.nanmin(a)
        assert np.max(np.abs(a[ok] - b[ok])) <= 1e-4 * span, column
    assert (back["age"] == X["age"]).all()  # integers come back exactly


def test_spans_cover_the_matrix(mixed_table):
    X, _ = mixed_table
    tt = TableTransformer().fit(X)
    spans = tt.spans
    assert spans[0].start == 0 and spans[-1].end == tt.output_dim
    assert all(a.end == b.start for a, b in zip(spans, spans[1:], strict=False))
    kinds = {(s.column, s.kind, s.role) for s in spans}
    assert ("hours", "softmax", "missing") in kinds  # missing-value indicator
    assert ("colour", "softmax", "value") in kinds
    colour = next(s for s in spans if s.column == "colour")
    assert colour.size == 4 + 1  # four categories + missing slot
    assert ("income", "continuous", "value") in kinds


def test_decoding_any_matrix_gives_valid_rows(mixed_table):
    X, _ = mixed_table
    tt = TableTransformer().fit(X)
    rng = np.random.default_rng(1)
    Z = rng.normal(0, 10, size=(500, tt.output_dim))
    Z[0, :] = np.nan
    Z[1, :] = np.inf
    out = tt.inverse_transform(Z)
    assert len(out) == 500
    schema = infer_schema(X)
    for spec in schema.columns:
        values = out[spec.name].dropna()
        if spec.categories is not None:
            assert set(values) <= set(spec.categories), spec.name
        else:
            assert values.min() >= spec.min and values.max() <= spec.max, spec.name
        if not spec.nullable:
            assert out[spec.name].notna().all(), spec.name
    assert (out["age"] == out["age"].round()).all()
    assert out.dtypes.to_dict() == X.dtypes.to_dict()


def test_state_round_trip(mixed_table):
    X, _ = mixed_table
    tt = TableTransformer().fit(X)
    config, arrays = tt.get_state()
    clone = TableTransformer.from_state(config, arrays)
    Z = tt.transform(X)
    np.testing.assert_array_equal(clone.transform(X), Z)
    pd.testing.assert_frame_equal(clone.inverse_transform(Z), tt.inverse_transform(Z))


def test_unseen_category_and_unfitted_errors(mixed_table):
    X, _ = mixed_table
    with pytest.raises(ModelError, match="not fitted"):
        TableTransformer().transform(X)
    tt = TableTransformer().fit(X)
    bad = X.copy()
    bad.loc[0, "colour"] = "ultraviolet"
    with pytest.raises(DataError, match="unseen category 'ultraviolet'"):
        tt.transform(bad)
    with pytest.raises(DataError, match="expected a matrix"):
        tt.inverse_transform(np.zeros((3, tt.output_dim + 1)))


def test_id_column_blocks_fit():
    X = pd.DataFrame({"key": [f"id-{i}" for i in range(50)], "v": np.arange(50.0)})
    with pytest.raises(DataError, match="'key' looks like an ID"):
        TableTransformer().fit(X)


def test_datetime_column_round_trip():
    stamps = pd.date_range("2024-01-01", periods=40, freq="D")
    X = pd.DataFrame({"when": stamps, "v": np.arange(40.0)})
    tt = TableTransformer().fit(X)
    back = tt.inverse_transform(tt.transform(X))
    assert back["when"].dtype == X["when"].dtype
    assert (abs(back["when"] - X["when"]) < pd.Timedelta(seconds=1)).all()


@pytest.mark.parametrize("shape", [(10, 8, 8), (10, 3, 8, 8)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_image_round_trip(shape, dtype):
    rng = np.random.default_rng(0)
    X = (rng.integers(0, 256, size=shape)).astype(dtype)
    it = ImageTransformer().fit(X)
    Z = it.transform(X)
    assert Z.shape == (10, *(shape[1:] if len(shape) == 4 else (1, *shape[1:])))
    assert Z.min() >= -1 and Z.max() <= 1
    back = it.inverse_transform(Z)
    assert back.shape == X.shape and back.dtype == X.dtype
    np.testing.assert_allclose(back, X, atol=1e-3 if dtype == np.float32 else 0)
    wild = it.inverse_transform(rng.normal(0, 5, size=Z.shape))
    assert wild.min() >= X.min() and wild.max() <= X.max()
    clone = ImageTransformer.from_state(*it.get_state())
    np.testing.assert_array_equal(clone.transform(X), Z)


def test_image_errors():
    with pytest.raises(DataError, match="every pixel"):
        ImageTransformer().fit(np.zeros((4, 8, 8)))
    it = ImageTransformer().fit(np.arange(4 * 64).reshape(4, 8, 8))
    with pytest.raises(DataError, match="shape"):
        it.transform(np.zeros((2, 9, 9)))
