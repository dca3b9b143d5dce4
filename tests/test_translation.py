"""Known-answer tests of the translation family beyond the conformance suite: where its
source rows come from, what `return_sources` and `sources=` give, the distances that
catch a translation that changed nothing, and a translation that keeps a row's nuisance
variation while moving what makes the class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from augment.errors import DataError, ModelError
from augment.generators import get_generator, load_generator
from augment.generators.translation import pair_distances

TINY = {"epochs": 2, "min_steps": 0, "batch_size": 16, "width": 32, "channels": 8,
        "progress": "never"}


def test_sources_come_from_larger_classes_and_are_training_images(tiny_images):
    X, y = tiny_images
    keep = np.r_[0:20, 20:34, 40:45]  # 20, 14 and 5 images of classes 0, 1, 2
    X, y = X[keep], y[keep]
    gen = get_generator("translation", **TINY).fit(X, y)
    classes, counts = np.unique(y, return_counts=True)
    smallest = classes[np.argmin(counts)]
    larger = set(classes[counts > counts.min()].tolist())
    X_syn, y_syn, X_src, y_src = gen.sample({smallest: 30}, seed=3, return_sources=True)
    assert len(X_src) == len(y_src) == 30 and set(y_src.tolist()) == larger == {0, 1}
    train = {img.tobytes(): label for img, label in zip(X, y, strict=True)}
    assert all(train[img.tobytes()] == label for img, label in zip(X_src, y_src, strict=True))
    assert (y_syn == smallest).all()
    # the largest class has no larger one: it translates from every other class
    biggest = classes[np.argmax(counts)]
    _, _, _, y_big = gen.sample({biggest: 20}, seed=3, return_sources=True)
    assert set(y_big.tolist()) == {1, 2}


def test_sources_option_and_passed_rows(mixed_table):
    X, y = mixed_table
    gen = get_generator("translation", **TINY, sources="all").fit(X, y)
    _, _, _, y_src = gen.sample({"rare": 200}, seed=0, return_sources=True)
    assert "rare" in set(y_src.tolist())  # "all" includes the target class itself
    given = X.iloc[:5]
    X_syn, y_syn, X_src, y_src = gen.sample({"rare": 12, "major": 3}, seed=1, sources=given,
                                            return_sources=True)
    assert len(X_syn) == 15 and all(v is None for v in y_src)
    def text(frame: pd.DataFrame) -> list[str]:
        return ["|".join(map(str, row)) for row in frame.itertuples(index=False)]

    assert set(text(X_src)) <= set(text(given))
    _, _, _, labelled = gen.sample({"rare": 4}, seed=1, sources=(given, y[:5]), return_sources=True)
    assert set(labelled.tolist()) <= set(y[:5].tolist())


def test_shards_and_seeds_with_sources(mixed_table):
    X, y = mixed_table
    gen = get_generator("translation", **TINY).fit(X, y)
    counts = {"rare": 1500, "minor": 700}
    whole = gen.sample(counts, seed=4, return_sources=True)
    parts = [gen.sample(counts, seed=4, rows=r, return_sources=True)
             for r in ((0, 1024), (1024, 2048), (2048, 2200))]
    for k in (0, 2):
        joined = pd.concat([p[k] for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(joined, whole[k].reset_index(drop=True))
    assert np.array_equal(np.concatenate([p[3] for p in parts]), whole[3])
    again = gen.sample(counts, seed=4)
    pd.testing.assert_frame_equal(again[0], whole[0])


def test_distances_flag_a_translation_that_changed_nothing(mixed_table):
    X, y = mixed_table
    gen = get_generator("translation", **TINY).fit(X, y)
    _, y_syn, X_src, _ = gen.sample({"rare": 40, "minor": 40}, seed=0, return_sources=True)
    same = pair_distances(gen, X_src, y_syn, X_src)  # "translated" rows equal to their sources
    assert same["source_distance"] == 0.0 and same["unchanged_share"] == 1.0
    assert same["nearer_source_share"] <= 1.0 and same["real_neighbour_distance"] > 0


def test_translation_moves_the_class_and_keeps_the_nuisance():
    """Class a: signal ~ N(-2, 0.5); class b: signal ~ N(2, 0.5); the nuisance column is
    N(0, 1) in both. Translating a -> b must move the signal to b's range and keep each
    row's nuisance value (a sample from noise could not)."""
    rng = np.random.default_rng(0)
    n = 300
    y = np.array(["a"] * n + ["b"] * (n // 3), dtype=object)
    signal = np.where(y == "a", -2.0, 2.0) + rng.normal(0, 0.5, len(y))
    X = pd.DataFrame({"signal": signal, "nuisance": rng.normal(0, 1, len(y))})
    gen = get_generator("translation", epochs=1, min_steps=1200, batch_size=64, width=64,
                        progress="never", seed=0).fit(X, y)
    X_syn, _, X_src, y_src = gen.sample({"b": 200}, seed=1, return_sources=True)
    assert set(y_src.tolist()) == {"a"}
    assert X_syn["signal"].median() > 1.0 and (X_syn["signal"] > 0).mean() > 0.9
    kept = np.corrcoef(X_src["nuisance"], X_syn["nuisance"])[0, 1]
    assert kept > 0.8, kept


def test_saved_model_keeps_its_sources_and_bad_sources_are_named(mixed_table, tmp_path):
    X, y = mixed_table
    gen = get_generator("translation", **TINY).fit(X, y)
    gen.save(tmp_path / "model")
    loaded = load_generator(tmp_path / "model")
    a = gen.sample({"rare": 9}, seed=2, return_sources=True)
    b = loaded.sample({"rare": 9}, seed=2, return_sources=True)
    pd.testing.assert_frame_equal(a[2], b[2])
    with pytest.raises(DataError, match="must be a DataFrame"):
        gen.sample({"rare": 2}, sources=X.to_numpy())
    with pytest.raises(DataError, match="lack the columns"):
        gen.sample({"rare": 2}, sources=X.drop(columns=["age"]))
    with pytest.raises(DataError, match="holds no rows"):
        gen.sample({"rare": 2}, sources=X.iloc[:0])
    from safetensors.torch import load_file, save_file

    weights = tmp_path / "model" / "weights.safetensors"
    save_file({k: v for k, v in load_file(str(weights)).items() if not k.startswith("state.")},
              str(weights))
    with pytest.raises(ModelError, match="source rows"):
        load_generator(tmp_path / "model")
