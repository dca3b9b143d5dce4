"""Shared fixtures: a small mixed-type table and tiny images, built in code."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# A gate that tiny (1-2 epoch) models can pass: end-to-end tests check the wiring, and
# test_gate.py checks the real thresholds. Copy before changing it (tests mutate params).
LENIENT_GATE = {"max_detection_auc": 1.0, "min_dcr_ratio": 0.0, "utility_tolerance": 1.0,
                "max_duplicate_excess": 1.0, "suite": {"kl_threshold": 100.0}}


SLOW_ENV = "AUGMENT_SLOW_TESTS"  # =1 runs the tests marked slow (.ci/run sets it)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs `-n auto`), the workers share the cores: each
    worker and every process it starts (dvc stages, CLI runs) takes its share of torch
    threads through AUGMENT_PARALLEL_TASKS (augment/threads.py), not all of them."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "AUGMENT_THREADS" not in os.environ:
        os.environ["AUGMENT_PARALLEL_TASKS"] = workers
        import torch

        from augment.threads import task_threads

        torch.set_num_threads(task_threads())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the `slow` end-to-end tests unless AUGMENT_SLOW_TESTS=1 or a -m expression
    picks tests by mark: `make test` stays quick, CI runs everything."""
    if os.environ.get(SLOW_ENV) == "1" or config.getoption("markexpr"):
        return
    skip = pytest.mark.skip(reason=f"slow end-to-end test: {SLOW_ENV}=1 make test (as CI) runs it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def tiny_pipeline(datasets: dict[str, dict], generators: list[str], batch_size: int = 16) -> dict:
    """params.yaml for end-to-end runs: 2-epoch models, a lenient gate, one seed, forests only.

    Checks the plumbing (stages, files, versions), not the models. The per-row filters
    are off: 2-epoch models draw rows a real filter rightly rejects (tests/test_filters.py
    runs them in the pipeline).
    """
    tiny = {"epochs": 2, "min_steps": 0, "batch_size": batch_size}
    return {
        "pipeline": {"datasets": list(datasets), "generators": generators},
        "datasets": datasets,
        "prepare": {"val": 0.2, "test": 0.2, "seed": 0},
        "train": {"seed": 0, "warm_start": "none", **{name: dict(tiny) for name in generators}},
        "sample": {"policy": "ratio", "ratio": 0.5, "seed": 1},
        "filter": {"anomaly": {"enabled": False}, "memorisation": {"enabled": False}},
        "validate": LENIENT_GATE,
        "publish": {"select": "best"},
        "evaluate": {"seeds": [0], "table_classifiers": ["random_forest"],
                     "image_classifiers": ["random_forest"]},
    }


def tool_env(tmp: Path) -> dict[str, str]:
    """Settings that keep DVC and git in `tmp`, away from the machine's own config, with
    this venv's tools (dvc, python) first on PATH."""
    return {
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site"),
        "DVC_GLOBAL_CONFIG_DIR": str(tmp / "dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(tmp / "dvc-system"),
        "GIT_CONFIG_GLOBAL": str(tmp / "gitconfig"),
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }


def make_mixed_table(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A table with NaNs, skewed and bimodal numerics, rare categories, imbalanced labels.

    Returns (X [n, 8] DataFrame, y [n] object labels: "major" 75%, "minor" 20%, "rare" 5%).
    """
    rng = np.random.default_rng(seed)
    income = rng.lognormal(mean=10, sigma=1.0, size=n)  # skewed
    bimodal = np.where(rng.random(n) < 0.5, rng.normal(-3, 0.5, n), rng.normal(4, 1.0, n))
    age = rng.integers(18, 90, size=n).astype("int64")
    hours = rng.integers(1, 60, size=n).astype(float)
    hours[rng.random(n) < 0.1] = np.nan  # integer-valued with missing values
    colour = rng.choice(["red", "green", "blue", "violet"], p=[0.5, 0.3, 0.18, 0.02], size=n)
    colour = pd.Series(colour, dtype="str")
    colour[rng.random(n) < 0.08] = np.nan
    flag = rng.random(n) < 0.3
    size = pd.Categorical(rng.choice(["S", "M", "L"], size=n), categories=["S", "M", "L"])
    X = pd.DataFrame({
        "income": income,
        "bimodal": bimodal,
        "age": age,
        "hours": hours,
        "colour": colour,
        "flag": flag,
        "size": size,
        "score": np.round(rng.normal(0, 1, n), 3),
    })
    y = rng.choice(["major", "minor", "rare"], p=[0.75, 0.2, 0.05], size=n).astype(object)
    return X, y


@pytest.fixture
def mixed_table() -> tuple[pd.DataFrame, np.ndarray]:
    return make_mixed_table()


@pytest.fixture
def tiny_images() -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [60, 8, 8] of 3 classes (bright square in a class-specific corner)."""
    rng = np.random.default_rng(0)
    n = 60
    y = np.repeat(np.arange(3), n // 3).astype(np.int64)
    X = rng.integers(0, 40, size=(n, 8, 8)).astype(np.uint8)
    for i, label in enumerate(y):
        r, c = [(0, 0), (0, 4), (4, 0)][label]
        X[i, r : r + 4, c : c + 4] += 200
    return X, y


@pytest.fixture
def mixed_csv(tmp_path, mixed_table):
    X, y = mixed_table
    frame = X.copy()
    frame["label"] = y
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    return path


def copy_project(repo: Path) -> None:
    """Create `repo` holding this project's code and DVC pipeline (a fresh repository's
    starting point for the tests that run real `dvc repro`)."""
    root = Path(__file__).resolve().parents[1]
    repo.mkdir()
    for name in ("augment", "pipelines"):
        shutil.copytree(root / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(root / name, repo / name)
