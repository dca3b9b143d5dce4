"""A saved model carries its whole resolved config: a default changed later in the code
changes neither what it samples nor which checkpoint a fit resumes."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import torch

from augment.errors import ModelError, OutputExistsError
from augment.generators import available_generators, generator_class, get_generator, load_generator
from augment.generators.base import table_min_steps

TINY = {"epochs": 1, "min_steps": 0, "batch_size": 16, "progress": "never"}
# Per family, new defaults that would change a saved model if it were rebuilt from its
# overrides alone: sampling settings for diffusion and the VAE, the architecture for
# the GAN (which has no sampling-only setting; its weights would not even load).
NEW_DEFAULTS = {
    "diffusion": {"ddim_steps": 3, "eta": 0.0, "guidance_scale": 4.0},
    "vae": {"temperature": 0.5, "categorical": "argmax", "continuous_noise": False},
    "gan": {"width": 64, "latent_dim": 16},
}
SAMPLING_ONLY = {"diffusion", "vae"}  # NEW_DEFAULTS that an already built model obeys


def patch_defaults(monkeypatch, name: str, **defaults) -> None:
    """Make `defaults` the family's Config defaults, as an edit of its source would."""
    cls = generator_class(name)
    hints = typing.get_type_hints(cls.Config)
    fields = [(key, hints[key], dataclasses.field(default=value)) for key, value in defaults.items()]
    patched = dataclasses.make_dataclass("Config", fields, bases=(cls.Config,), frozen=True)
    monkeypatch.setattr(cls, "Config", patched)


def same_bytes(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        return a.dtypes.equals(b.dtypes) and a.equals(b)
    if a.dtype == object:  # bytes of an object array are pointers: compare the objects
        return b.dtype == object and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(params=["table", "image"])
def data(request, mixed_table, tiny_images):
    return mixed_table if request.param == "table" else tiny_images


@pytest.mark.parametrize("name", sorted(NEW_DEFAULTS))
def test_reloaded_model_ignores_changed_defaults(name, data, tmp_path, monkeypatch):
    X, y = data
    gen = get_generator(name, **TINY).fit(X, y)
    gen.save(tmp_path / "model")
    counts = {label: 9 for label in np.unique(y).tolist()}
    X_before, y_before = gen.sample(counts, seed=4)

    new = NEW_DEFAULTS[name]
    patch_defaults(monkeypatch, name, **new)
    fresh = get_generator(name, **TINY).config
    for key, value in new.items():
        assert getattr(fresh, key) == value != getattr(gen.config, key), key

    loaded = load_generator(tmp_path / "model")
    assert dataclasses.asdict(loaded.config) == dataclasses.asdict(gen.config)
    assert loaded.params == TINY
    X_after, y_after = loaded.sample(counts, seed=4)
    assert same_bytes(X_after, X_before) and same_bytes(y_after, y_before)
    if name in SAMPLING_ONLY:  # the patch is real: the new defaults would sample otherwise
        loaded.config = fresh
        assert not same_bytes(loaded.sample(counts, seed=4)[0], X_before)


@pytest.mark.parametrize("name", available_generators())
def test_config_json_holds_every_field_and_fit_facts(name, mixed_table, tmp_path):
    X, y = mixed_table
    gen = get_generator(name, **TINY).fit(X, y)
    saved = json.loads((gen.save(tmp_path / "model") / "config.json").read_text())
    assert saved["format_version"] == 2 and saved["family"] == name
    fields = [f.name for f in dataclasses.fields(generator_class(name).Config)]
    assert list(saved["config"]) == fields
    assert saved["config"] == json.loads(json.dumps(dataclasses.asdict(gen.config)))
    assert saved["params"] == TINY  # the overrides as given, for people reading the file
    assert saved["resolved"]["min_steps"] == 0 and saved["resolved"]["epochs"] == 1
    assert saved["config"]["min_steps"] == 0  # the declared value is kept beside
    assert saved["augment_version"] not in (None, "") and saved["torch_version"] == torch.__version__
    assert saved["fit_device"] == "cpu" or saved["fit_device"].startswith("cuda")
    assert isinstance(saved["fit_seconds"], float) and saved["fit_seconds"] > 0
    fitted_at = datetime.fromisoformat(saved["fitted_at"])
    assert fitted_at.utcoffset() == timedelta(0)
    # Loading and saving again keeps the facts of the original fit.
    again = json.loads((load_generator(tmp_path / "model").save(tmp_path / "copy")
                        / "config.json").read_text())
    assert {k: again[k] for k in saved if k != "transformer"} == {
        k: saved[k] for k in saved if k != "transformer"}


def test_data_dependent_defaults_are_resolved_and_saved(mixed_table, tiny_images, tmp_path,
                                                        monkeypatch):
    monkeypatch.setattr(generator_class("diffusion"), "TABLE_MIN_STEPS", 40)
    table = get_generator("diffusion", **{**TINY, "min_steps": None}).fit(*mixed_table)
    # 240 rows, smaller than breast_cancer's matrix: a share of the 40 steps, at batch
    # size 16 (15 steps per epoch) 2 epochs.
    steps = table_min_steps(40, 240, table.info_.dim)
    assert 10 <= steps < 40
    assert table.resolved_ == {"min_steps": steps, "epochs": 2, "guidance_scale": 2.0}
    table.save(tmp_path / "table")
    # A later change of the rule does not reach the saved model: it keeps its 2.0.
    monkeypatch.setattr(generator_class("diffusion"), "_resolve",
                        lambda self, info: {"guidance_scale": 7.0})
    assert load_generator(tmp_path / "table").guidance_ == 2.0
    monkeypatch.undo()
    images = get_generator("diffusion", **{**TINY, "min_steps": None}).fit(*tiny_images)
    assert images.resolved_ == {"min_steps": 0, "epochs": 1, "guidance_scale": 1.0}
    saved = json.loads((images.save(tmp_path / "m") / "config.json").read_text())
    assert saved["config"]["guidance_scale"] is None and saved["config"]["min_steps"] is None
    assert saved["resolved"] == images.resolved_


def test_the_table_step_minimum_follows_rows_and_width():
    """Full minimum from breast_cancer's 398 x 30 matrix up, a share below, a quarter
    at least; it grows with rows and with width."""
    assert table_min_steps(1000, 398, 30) == 998 and table_min_steps(1000, 22_792, 108) == 1000
    assert table_min_steps(1000, 105, 4) == table_min_steps(1000, 10, 1) == 250
    assert table_min_steps(1000, 200, 30) < table_min_steps(1000, 300, 30) < 1000
    assert table_min_steps(1000, 300, 20) < table_min_steps(1000, 300, 30)


def test_checkpoint_not_resumed_when_a_default_changed(mixed_table, tmp_path, monkeypatch):
    X, y = mixed_table
    params = {**TINY, "checkpoint_every": 1}
    first = get_generator("vae", **params).fit(X, y, checkpoint_dir=tmp_path)
    # Run options may differ on resume: the finished checkpoint is taken as it is.
    resumed = get_generator("vae", **{**params, "progress": "always", "checkpoint_every": 5})
    resumed.fit(X, y, checkpoint_dir=tmp_path)
    assert resumed.curve_ == first.curve_
    patch_defaults(monkeypatch, "vae", kl_weight=0.5)
    with pytest.raises(ModelError, match="other data or params"):
        get_generator("vae", **params).fit(X, y, checkpoint_dir=tmp_path)


def test_old_format_is_a_clear_error(mixed_table, tmp_path):
    X, y = mixed_table
    path = get_generator("vae", **TINY).fit(X, y).save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    with pytest.raises(ModelError, match="format version 1; this version reads 2.*fit it again"):
        load_generator(path)
    (path / "config.json").write_text(json.dumps({**config, "config": {
        **config["config"], "retired_option": 1}}))
    with pytest.raises(ModelError, match="retired_option"):
        load_generator(path)


def test_save_replaces_its_own_model_but_not_foreign_files(mixed_table, tmp_path):
    gen = get_generator("vae", **TINY).fit(*mixed_table)
    gen.save(tmp_path / "model")
    gen.save(tmp_path / "model")  # a model folder may be replaced by a model
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="refusing to replace"):
        gen.save(foreign)
    assert (foreign / "todo.txt").read_text() == "mine"
    gen.save(foreign, force=True)
    assert not (foreign / "todo.txt").exists() and load_generator(foreign).classes_ == gen.classes_
