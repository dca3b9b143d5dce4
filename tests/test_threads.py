"""Torch threads follow the task's share of the cores."""

from __future__ import annotations

import pytest

from augment import threads
from augment.errors import ConfigError


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    for name in ("AUGMENT_THREADS", "AUGMENT_PARALLEL_TASKS"):
        monkeypatch.delenv(name, raising=False)


def test_share_of_the_cores(four_cores, monkeypatch):
    assert threads.task_threads() == 4
    assert threads.task_threads(parallel=2) == 2
    assert threads.task_threads(parallel=8) == 1
    monkeypatch.setenv("AUGMENT_PARALLEL_TASKS", "4")
    assert threads.task_threads() == 1
    monkeypatch.setenv("AUGMENT_THREADS", "3")
    assert threads.task_threads(parallel=2) == 3  # explicit wins


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_settings_are_clear_errors(four_cores, monkeypatch, value):
    monkeypatch.setenv("AUGMENT_THREADS", value)
    with pytest.raises(ConfigError, match="AUGMENT_THREADS must be a positive integer"):
        threads.task_threads()


def test_configure_sets_torch(four_cores, monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("AUGMENT_THREADS", "1")
    try:
        assert threads.configure_threads() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
