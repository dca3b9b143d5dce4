"""Transfer learning: warm starts (`fit(init_from=...)`) and pretraining (`fit(pretrain=...)`).

Tiny configurations; what a warm start or pretraining is worth is measured in
bench/transfer.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from augment.errors import DataError, IncompatibleModelError
from augment.generators import available_generators, get_generator, load_generator, transfer
from augment.generators.base import WARM_LR_RAMP
from tests.conftest import make_mixed_table
from tests.test_generators import _same, tiny

FAMILIES = available_generators()


def next_version(X: pd.DataFrame, y: np.ndarray, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """A later version of the mixed table: new rows, a shifted column, a new category
    ("teal"), a new class ("new") and the class "rare" dropped."""
    X2, y2 = make_mixed_table(300, seed=seed)
    X2["income"] = X2["income"] * 1.5
    X2.loc[X2.index[:20], "colour"] = "teal"
    y2 = np.where(y2 == "rare", "new", y2).astype(object)
    return X2, y2


def state(gen) -> dict[str, torch.Tensor]:
    return {f"{k}.{n}": t.clone() for k, m in gen.modules_.items() for n, t in m.state_dict().items()}


def built(name: str, X, y, parent=None, **extra):
    """A generator prepared and built for X, y (no training), with parent's weights
    copied in when given."""
    gen = get_generator(name, **tiny(name, **extra))
    gen._prepare(X, y, warm=parent is not None)
    torch.manual_seed(0)
    gen._build(gen.info_)
    if parent is not None:
        transfer.check_compatible(gen, parent)
        gen.mapped_ = transfer.copy_weights(gen, parent)
    return gen


@pytest.mark.parametrize("name", FAMILIES)
def test_warm_start_maps_classes_and_categories_by_key(name, mixed_table):
    X, y = mixed_table
    parent = get_generator(name, **tiny(name)).fit(X, y)
    X2, y2 = next_version(X, y)
    child = built(name, X2, y2, parent)
    assert child.mapped_["classes"] == {"kept": 2, "new": ["new"], "dropped": ["rare"]}
    assert child.mapped_["dims"]["new"] == ["colour/category/teal"]
    old, new = state(parent), state(child)
    kept = [parent.classes_.index(c) for c in ("major", "minor")]
    here = [child.classes_.index(c) for c in ("major", "minor")]
    for key in new:
        if key.endswith("embed.table.weight"):  # class rows follow the labels
            assert torch.equal(new[key][here], old[key][kept])
    old_dims, new_dims = transfer.dim_keys(parent), transfer.dim_keys(child)
    axes = transfer.data_axes(child, child.info_)
    for key, by_axis in axes.items():
        if by_axis == {1: "dims"}:  # an input layer over the encoded row
            for j, dim in enumerate(new_dims):
                if dim in old_dims:
                    assert torch.equal(new[key][:, j], old[key][:, old_dims.index(dim)])
    untouched = [k for k in new if k not in axes and new[k].dim() > 0 and "steps" not in k]
    assert untouched and all(torch.equal(new[k], old[k]) for k in untouched)


@pytest.mark.parametrize("name", FAMILIES)
def test_warm_fit_trains_a_share_of_the_schedule_and_samples_new_classes(name, mixed_table,
                                                                          tmp_path):
    X, y = mixed_table
    parent = get_generator(name, **tiny(name, epochs=8)).fit(X, y)
    parent.save(tmp_path / "v1")
    X2, y2 = next_version(X, y)
    child = get_generator(name, **tiny(name, epochs=8)).fit(X2, y2, init_from=tmp_path / "v1")
    assert child.resolved_["epochs"] == 2 and child.resolved_["warm_share"] == 0.25
    assert len(child.curve_) == 2
    lineage = child.lineage_["init_from"]
    assert lineage["weights_sha256"] == transfer.weights_digest(load_generator(tmp_path / "v1"))
    X_syn, y_syn = child.sample({"new": 5, "major": 3}, seed=0)
    assert sorted(set(y_syn)) == ["major", "new"]
    if name != "gan":  # the gan samples softmax spans by Gumbel noise: "teal" may not show
        assert set(X_syn["colour"].dropna()) <= {"red", "green", "blue", "violet", "teal"}
    child.save(tmp_path / "v2")
    assert load_generator(tmp_path / "v2").lineage_ == child.lineage_


@pytest.mark.parametrize("name", FAMILIES)
def test_warm_start_on_images_and_determinism(name, tiny_images):
    X, y = tiny_images
    parent = get_generator(name, **tiny(name)).fit(X[:40], y[:40])
    runs = [get_generator(name, **tiny(name)).fit(X, y, init_from=parent) for _ in range(2)]
    a, b = (r.sample({0: 4, 2: 3}, seed=3)[0] for r in runs)
    assert np.array_equal(a, b)
    cold = get_generator(name, **tiny(name)).fit(X, y).sample({0: 4, 2: 3}, seed=3)[0]
    assert not np.array_equal(a, cold)  # the parent's weights made a difference


def test_incompatible_parents_are_named(mixed_table, tiny_images):
    X, y = mixed_table
    vae = get_generator("vae", **tiny("vae")).fit(X, y)
    cases = [
        ("gan", X, y, vae, "init_from is a vae model; this is a gan generator"),
        ("vae", *tiny_images, vae, "init_from was fitted on tables; this data is images"),
        ("vae", X.drop(columns=["score"]), y, vae, r"other columns: missing here \['score'\]"),
        ("vae", X.assign(colour=np.arange(len(X), dtype=float)), y, vae,
         "column 'colour' was categorical in init_from and is integer now"),
    ]
    for name, X2, y2, parent, message in cases:
        with pytest.raises(IncompatibleModelError, match=message):
            get_generator(name, **tiny(name)).fit(X2, y2, init_from=parent)
    with pytest.raises(IncompatibleModelError, match="other network sizes: width 128 -> 64"):
        get_generator("vae", **tiny("vae", width=64)).fit(X, y, init_from=vae)
    images, labels = tiny_images
    small = get_generator("vae", **tiny("vae")).fit(images[:, :6, :6], labels)
    with pytest.raises(IncompatibleModelError, match=r"shape \(C, H, W\) = \(1, 6, 6\)"):
        get_generator("vae", **tiny("vae")).fit(images, labels, init_from=small)
    with pytest.raises(IncompatibleModelError, match="not fitted"):
        get_generator("vae", **tiny("vae")).fit(X, y, init_from=get_generator("vae"))


def test_a_setting_that_shapes_no_weight_may_differ(mixed_table):
    X, y = mixed_table
    parent = get_generator("vae", **tiny("vae")).fit(X, y)
    child = get_generator("vae", **tiny("vae", temperature=0.8, kl_weight=0.5))
    child.fit(X, y, init_from=parent)  # no error
    assert child.lineage_["init_from"]["family"] == "vae"


@pytest.mark.parametrize("name", FAMILIES)
def test_resume_of_a_warm_started_and_pretrained_fit(name, mixed_table, tmp_path):
    X, y = mixed_table
    parent = get_generator(name, **tiny(name)).fit(X, y)
    X2, y2 = next_version(X, y)
    pool = make_mixed_table(200, seed=5)[0]
    params = tiny(name, epochs=8, checkpoint_every=1)  # warm: 2 epochs; pool: 8
    full = get_generator(name, **params).fit(X2, y2, init_from=parent, pretrain=pool,
                                             checkpoint_dir=tmp_path / "full")
    for die_at in (3, 8 * 12 + 2):  # in the pretraining phase, then in the fine-tuning phase
        killed = get_generator(name, **params)
        original, steps = killed._train_step, {"n": 0}

        def step_then_die(*args, _orig=original, _steps=steps, _at=die_at, **kwargs):
            if _steps["n"] == _at:
                raise KeyboardInterrupt
            _steps["n"] += 1
            return _orig(*args, **kwargs)

        killed._train_step = step_then_die
        run = tmp_path / f"run{die_at}"
        with pytest.raises(KeyboardInterrupt):
            killed.fit(X2, y2, init_from=parent, pretrain=pool, checkpoint_dir=run)
        resumed = get_generator(name, **params).fit(X2, y2, init_from=parent, pretrain=pool,
                                                    checkpoint_dir=run)
        assert len(resumed.pretrain_curve_) == 8 and len(resumed.curve_) == 2
        counts = {"new": 4, "major": 4}
        assert _same(resumed.sample(counts, seed=0)[0], full.sample(counts, seed=0)[0])
    with pytest.raises(Exception, match="other data or params"):  # another parent: stale
        get_generator(name, **params).fit(X2, y2, pretrain=pool, checkpoint_dir=tmp_path / "full")


@pytest.mark.parametrize("name", FAMILIES)
def test_pretraining_starts_every_class_from_the_null_class(name, tiny_images):
    X, y = tiny_images
    gen = get_generator(name, **tiny(name))
    gen._prepare(X[::3], y[::3], pretrain=X)
    gen._build(gen.info_)
    transfer.classes_from_null(gen)
    axes = transfer.data_axes(gen, gen.info_)
    nulled = 0
    for key, module in gen.modules_.items():
        for param, tensor in module.state_dict().items():
            for axis, layout in axes.get(f"{key}.{param}", {}).items():
                if layout == "classes+null":
                    rows = tensor.movedim(axis, 0)
                    assert all(torch.equal(rows[i], rows[-1]) for i in range(len(rows) - 1))
                    nulled += 1
    assert nulled >= 1


@pytest.mark.parametrize("name", FAMILIES)
def test_pretrained_fit_records_the_pool_and_encodes_its_new_categories(name, mixed_table):
    X, y = mixed_table
    pool = make_mixed_table(150, seed=7)[0]
    pool.loc[pool.index[:10], "colour"] = "amber"  # only in the unlabelled rows
    from augment.data import infer_schema

    gen = get_generator(name, **tiny(name)).fit(X, y, pretrain=pool, schema=infer_schema(X))
    assert gen.lineage_["pretrain"]["rows"] == 150 and gen.pretrain_curve_
    assert "amber" in gen.transformer_.schema_.column("colour").categories
    X_syn, _ = gen.sample({"major": 5}, seed=0)
    assert len(X_syn) == 5


def test_pretrain_rows_must_match_the_data(mixed_table, tiny_images):
    X, y = mixed_table
    gen = get_generator("vae", **tiny("vae"))
    with pytest.raises(DataError, match=r"pretrain rows lack the columns \['score'\]"):
        gen.fit(X, y, pretrain=X.drop(columns=["score"]))
    with pytest.raises(DataError, match="must be a DataFrame"):
        gen.fit(X, y, pretrain=np.zeros((3, 8)))
    images, labels = tiny_images
    with pytest.raises(DataError, match=r"shape \[M, 8, 8\], got \(4, 6, 6\)"):
        gen.fit(images, labels, pretrain=np.zeros((4, 6, 6)))


@pytest.mark.parametrize("name", ["gan", "diffusion"])  # two optimizers, one
def test_a_warm_fit_ramps_its_learning_rate_and_continues_the_average(name, mixed_table):
    X, y = mixed_table
    parent = get_generator(name, **tiny(name)).fit(X, y)
    parent_steps = int(parent.modules_["ema"].steps)
    X2, y2 = next_version(X, y)
    for init_from in (None, parent):
        gen = get_generator(name, **tiny(name, epochs=20))  # warm: 5 epochs of 18 steps
        seen: list[list[float]] = []
        original = gen._train_step

        def record(*args, _orig=original, _gen=gen, _seen=seen, **kwargs):
            _seen.append([g["lr"] for o in _gen.optimizers_.values() for g in o.param_groups])
            return _orig(*args, **kwargs)

        gen._train_step = record
        gen.fit(X2, y2, init_from=init_from)
        configured = [lr for rates in gen.base_lrs_.values() for lr in rates]
        if init_from is None:
            assert all(rates == configured for rates in seen)
            continue
        ramp = int(np.ceil(WARM_LR_RAMP * len(seen)))  # steps to the configured rate
        assert all(r < c for r, c in zip(seen[0], configured, strict=True))
        assert seen[ramp - 2] < seen[ramp - 1] == configured and seen[-1] == configured
        # the average goes on from the parent's: its warm-up count continues
        assert int(gen.modules_["ema"].steps) > parent_steps
