"""Class-count policies: how many rows each class is asked for."""

from __future__ import annotations

import pytest

from augment.errors import ConfigError
from augment.sampling import parse_counts, policy_counts

TRAIN = {"a": 100, "b": 30, "c": 70}


def test_balance_raises_every_class_to_the_largest():
    assert policy_counts(TRAIN, "balance") == {"a": 0, "b": 70, "c": 30}


def test_partial_balance_raises_to_a_share_of_the_largest():
    assert policy_counts(TRAIN, "balance", ratio=0.5) == {"a": 0, "b": 20, "c": 0}
    for bad in (0.0, 1.5, -1.0):
        with pytest.raises(ConfigError, match="share of the largest class"):
            policy_counts(TRAIN, "balance", ratio=bad)


def test_a_policy_that_asks_for_nothing_is_an_error():
    with pytest.raises(ConfigError, match="balance policy .* asks for no new rows"):
        policy_counts({"a": 50, "b": 50}, "balance")
    with pytest.raises(ConfigError, match="ask for no rows at all"):
        policy_counts(TRAIN, "counts", counts={"a": 0})


def test_ratio_and_counts():
    assert policy_counts(TRAIN, "ratio", ratio=0.5) == {"a": 50, "b": 15, "c": 35}
    assert policy_counts(TRAIN, "counts", counts={"b": 5}) == {"b": 5}
    with pytest.raises(ConfigError, match=r"ratio \(new rows per real row\) must be in \[0, 1000\], got -1"):
        policy_counts(TRAIN, "ratio", ratio=-1)
    with pytest.raises(ConfigError, match="needs a mapping"):
        policy_counts(TRAIN, "counts")
    with pytest.raises(ConfigError, match="unknown class-count policy 'smote'"):
        policy_counts(TRAIN, "smote")


def test_parse_counts():
    assert parse_counts("a=10, b=5") == {"a": 10, "b": 5}
    with pytest.raises(ConfigError, match="CLASS=N"):
        parse_counts("a10")
    with pytest.raises(ConfigError, match="must be an integer"):
        parse_counts("a=ten")
