"""One conformance suite that every generator family passes, on tables and on images.

Tiny configurations (1-2 epochs, 2 diffusion steps, 8x8 images) keep it fast on CPU;
sample quality is measured in bench/, not here.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest
import torch

from augment.data import infer_schema
from augment.errors import ConfigError, DataError, ModelError
from augment.generators import available_generators, get_generator, load_generator
from augment.generators.base import show_progress
from augment.io import MARKER

TINY: dict[str, dict] = {
    "vae": {"epochs": 2, "min_steps": 0, "batch_size": 16},
    "gan": {"epochs": 2, "min_steps": 0, "batch_size": 16},
    "diffusion": {"epochs": 2, "min_steps": 0, "batch_size": 16},
    "autoregressive": {"epochs": 2, "min_steps": 0, "batch_size": 16, "width": 64, "channels": 8},
    "translation": {"epochs": 2, "min_steps": 0, "batch_size": 16, "width": 64, "channels": 8},
}
FAMILIES = available_generators()


def tiny(name: str, **extra) -> dict:
    return {**TINY[name], "progress": "never", **extra}


@pytest.fixture(params=["table", "image"])
def data(request, mixed_table, tiny_images):
    return request.param, *(mixed_table if request.param == "table" else tiny_images)


def counts_for(y) -> dict:
    classes = sorted(set(np.asarray(y).tolist()), key=str)
    return {c: n for c, n in zip(classes, [7, 0, 3], strict=False)} | {classes[-1]: 11}


def test_registry_lists_the_five_families():
    assert set(FAMILIES) >= {"vae", "gan", "diffusion", "autoregressive", "translation"}


@pytest.mark.parametrize("name", FAMILIES)
def test_exact_counts_and_valid_values(name, data):
    modality, X, y = data
    gen = get_generator(name, **tiny(name)).fit(X, y)
    counts = counts_for(y)
    X_syn, y_syn = gen.sample(counts, seed=1)
    labels, numbers = np.unique(y_syn, return_counts=True)
    assert {k: v for k, v in counts.items() if v} == dict(zip(labels.tolist(), numbers.tolist(),
                                                               strict=True))
    assert y_syn.dtype == np.asarray(y).dtype
    if modality == "image":
        assert X_syn.shape == (len(y_syn), *X.shape[1:]) and X_syn.dtype == X.dtype
        assert X_syn.min() >= X.min() and X_syn.max() <= X.max()
        return
    assert list(X_syn.columns) == list(X.columns)
    assert X_syn.dtypes.to_dict() == X.dtypes.to_dict()
    for spec in infer_schema(X).columns:
        values = X_syn[spec.name].dropna()
        if spec.categories is not None:
            assert set(values) <= set(spec.categories), spec.name
        else:
            assert values.min() >= spec.min and values.max() <= spec.max, spec.name
        if not spec.nullable:
            assert X_syn[spec.name].notna().all(), spec.name
    assert (X_syn["age"] == X_syn["age"].round()).all()


def _same(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    return np.array_equal(a, b)


@pytest.mark.parametrize("name", FAMILIES)
def test_same_seed_same_output_and_global_rng_untouched(name, data):
    _, X, y = data
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = get_generator(name, **tiny(name, seed=3)).fit(X, y)
    b = get_generator(name, **tiny(name, seed=3)).fit(X, y)
    counts = counts_for(y)
    xa, ya = a.sample(counts, seed=5)
    xb, yb = b.sample(counts, seed=5)
    assert _same(xa, xb) and np.array_equal(ya, yb)
    assert _same(a.sample(counts, seed=5)[0], xa)
    assert not _same(a.sample(counts, seed=6)[0], xa)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)


@pytest.mark.parametrize("name", FAMILIES)
def test_save_load_gives_identical_samples(name, data, tmp_path):
    _, X, y = data
    gen = get_generator(name, **tiny(name)).fit(X, y)
    gen.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == sorted([
        MARKER, "config.json", "curve.json", "weights.safetensors"])
    loaded = load_generator(tmp_path / "model")
    counts = counts_for(y)
    xa, ya = gen.sample(counts, seed=2)
    xb, yb = loaded.sample(counts, seed=2)
    assert _same(xa, xb) and np.array_equal(ya, yb)
    curve = json.loads((tmp_path / "model" / "curve.json").read_text())
    assert [row["epoch"] for row in curve] == [1, 2]


@pytest.mark.parametrize("name", FAMILIES)
def test_resume_after_interrupted_fit(name, mixed_table, tmp_path):
    X, y = mixed_table
    params = tiny(name, checkpoint_every=1)
    full = get_generator(name, **params).fit(X, y, checkpoint_dir=tmp_path / "full")

    killed = get_generator(name, **params)
    original_step = killed._train_step
    steps = {"n": 0}
    per_epoch = len(X) // params["batch_size"]

    def step_then_die(*args, **kwargs):
        if steps["n"] == per_epoch + 1:  # part-way through epoch 2
            raise KeyboardInterrupt
        steps["n"] += 1
        return original_step(*args, **kwargs)

    killed._train_step = step_then_die
    with pytest.raises(KeyboardInterrupt):
        killed.fit(X, y, checkpoint_dir=tmp_path / "run")
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    resumed = get_generator(name, **params).fit(X, y, checkpoint_dir=tmp_path / "run")
    assert [r["epoch"] for r in resumed.curve_] == [1, 2]
    counts = counts_for(y)
    assert _same(resumed.sample(counts, seed=0)[0], full.sample(counts, seed=0)[0])
    other = get_generator(name, **tiny(name, checkpoint_every=1, seed=9))
    with pytest.raises(ModelError, match="other data or params"):
        other.fit(X, y, checkpoint_dir=tmp_path / "run")


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_input_errors(name, mixed_table, tmp_path):
    X, y = mixed_table
    with pytest.raises(ConfigError, match="unknown parameter"):
        get_generator(name, epochs=1, not_a_param=3)
    with pytest.raises(ConfigError, match="epochs must be an integer"):
        get_generator(name, epochs="many")
    gen = get_generator(name, **tiny(name))
    with pytest.raises(ModelError, match="not fitted"):
        gen.sample({"major": 1})
    with pytest.raises(ModelError, match="not fitted"):
        gen.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()
    with pytest.raises(DataError, match="only one class"):
        gen.fit(X, np.array(["a"] * len(X), dtype=object))
    with pytest.raises(DataError, match="fewer than 2 training rows"):
        gen.fit(X.head(4), np.array(["a", "a", "b", "c"], dtype=object))
    with pytest.raises(DataError, match="labels"):
        gen.fit(X, y[:-1])
    gen.fit(X, y)
    with pytest.raises(DataError, match="unknown class 'nope'"):
        gen.sample({"nope": 3})
    with pytest.raises(DataError, match="negative"):
        gen.sample({"major": -1})
    with pytest.raises(DataError, match="must be an integer"):
        gen.sample({"major": 1.5})


def test_corrupt_or_foreign_model_files(mixed_table, tmp_path):
    X, y = mixed_table
    gen = get_generator("vae", **tiny("vae")).fit(X, y)
    path = gen.save(tmp_path / "model")
    with pytest.raises(ModelError, match="not a saved generator"):
        load_generator(tmp_path)
    weights = path / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelError, match="corrupt"):
        load_generator(path)
    (path / "config.json").write_text('{"format": "something-else"}')
    with pytest.raises(ModelError, match="not an augment generator"):
        load_generator(path)
    (path / "config.json").write_text("not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_generator(path)


def test_rare_class_costs_no_rejection(mixed_table):
    X, y = mixed_table
    gen = get_generator("vae", **tiny("vae")).fit(X, y)
    _, y_syn = gen.sample({"rare": 1000}, seed=0)
    assert (y_syn == "rare").sum() == 1000


@pytest.mark.parametrize("name", FAMILIES)
def test_min_steps_raises_epochs_on_small_data(name, mixed_table):
    X, y = mixed_table  # 240 rows: 15 steps per epoch at batch size 16
    gen = get_generator(name, **tiny(name, min_steps=40)).fit(X, y)
    assert [row["epoch"] for row in gen.curve_] == [1, 2, 3]  # ceil(40 / 15) > 2 epochs
    gen = get_generator(name, **tiny(name, min_steps=20)).fit(X, y)
    assert len(gen.curve_) == 2  # 2 epochs already give 30 steps
    with pytest.raises(ConfigError, match="min_steps"):
        get_generator(name, **tiny(name, min_steps=-1)).fit(X, y)


@pytest.mark.parametrize("name", FAMILIES)
def test_zero_rows_asked_gives_empty_typed_output(name, data):
    modality, X, y = data
    gen = get_generator(name, **tiny(name, epochs=1)).fit(X, y)
    X_syn, y_syn = gen.sample({y[0]: 0})
    assert len(X_syn) == 0 and len(y_syn) == 0 and y_syn.dtype == np.asarray(y).dtype
    if modality == "table":
        assert list(X_syn.columns) == list(X.columns)
        assert dict(X_syn.dtypes) == dict(X.dtypes)
    else:
        assert X_syn.shape == (0, *X.shape[1:]) and X_syn.dtype == X.dtype


def test_fit_without_a_bar_logs_a_few_epoch_lines(tiny_images, caplog):
    X, y = tiny_images  # 60 images at batch size 16: 3 steps per epoch
    with caplog.at_level(logging.INFO, logger="augment"):
        get_generator("vae", **tiny("vae", epochs=21)).fit(X, y)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("augment.")]
    assert re.fullmatch(r"fit vae: 60 rows, 3 classes, 21 epochs, device \S+", lines[0])
    assert re.fullmatch(r"fit vae: done in \d+\.\d s", lines[-1])
    epochs = lines[1:-1]
    assert [line.split(":")[0] for line in epochs] == [
        f"fit vae epoch {e}/21" for e in [*range(2, 21, 2), 21]]  # every 2nd, and the last
    assert all(re.search(r": loss \S+, recon \S+, kl \S+", line) for line in epochs)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="augment"):
        get_generator("vae", **tiny("vae", progress="always")).fit(X, y)
    assert not [r for r in caplog.records if " epoch " in r.getMessage()]  # the bar has them


def test_progress_auto_draws_on_a_terminal_or_in_jupyter(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a tty
    assert not show_progress("auto")
    assert show_progress("always") and not show_progress("never")
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert show_progress("auto") and not show_progress("never")
