"""Frozen configs from params dicts: unknown keys and wrong types name the key."""

from __future__ import annotations

import pytest

from augment.config import from_dict
from augment.errors import ConfigError
from pipelines.params import DatasetParams, dataset_params, prepare_params


def test_valid_params_build_typed_configs():
    params = {"datasets": {"d": {"source": "builtin:iris", "thin": {"classes": ["setosa"],
                                                                     "keep": 0.5}}},
              "prepare": {"val": 0.1, "test": 0.2, "seed": 3}}
    ds = dataset_params(params, "d")
    assert ds.thin.keep == 0.5 and ds.target is None
    assert prepare_params(params).seed == 3


@pytest.mark.parametrize("section,message", [
    ({"source": "builtin:iris", "taget": "y"}, "unknown parameter datasets.d.taget"),
    ({"source": 3}, "datasets.d.source must be a string"),
    ({"source": "x", "thin": {"classes": [1], "keep": "half"}}, "datasets.d.thin.keep"),
])
def test_bad_params_name_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        dataset_params({"datasets": {"d": section}}, "d")


def test_wrong_types():
    with pytest.raises(ConfigError, match="prepare.seed must be an integer"):
        prepare_params({"prepare": {"seed": 1.5}})
    with pytest.raises(ConfigError, match="not in params.yaml"):
        dataset_params({"datasets": {}}, "nope")
    with pytest.raises(ConfigError, match="source"):
        from_dict(DatasetParams, {}, where="datasets.d")
