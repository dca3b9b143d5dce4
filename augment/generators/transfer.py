"""Warm starts: copy a fitted model's weights into a new fit whose data changed.

Between two versions of a dataset the encoded layout moves: a column gains a category,
a class appears or goes. The transformer is refitted on the new data, and every
data-shaped axis of every weight is matched by *key*, not by position:

- encoded table dims by (column, "value") for a continuous column, (column,
  "category", value) for a category, (column, "missing") for a categorical's missing
  value, and (column, "present" | "absent") for a numeric column's missing indicator;
- class rows by label, the null class (classifier-free guidance, pretraining) by `NULL`;
- family layouts built from these (the VAE's mixture output per continuous column).

A key found in both models is copied, a new key keeps the fresh (seeded) initial value,
an old key that is gone is dropped. Continuous columns keep their weights although the
quantile map was refitted: both maps send the column to N(0, 1) scores, so a shifted
distribution is re-normalised and the network sees the same scale.

Which axis holds which layout is found by probing, not declared by hand: the family's
networks are built for the data and for a copy with three more classes, one more
categorical column and one more continuous column; an axis whose size changes is a data
axis, and the layout whose length changes the same way names it. So a new network layer
needs no transfer code.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from augment.data.schema import TableSchema, to_python
from augment.data.transformers import Span
from augment.errors import IncompatibleModelError, ModelError

if TYPE_CHECKING:
    from augment.generators.base import DataInfo, Generator

NULL = "<null class>"  # key of the null class row
PROBE_CLASSES = 3  # classes the probe adds
# Hyperparameters that do not shape a network: a parent may differ in these.
SCHEDULE_FIELDS = frozenset({"epochs", "min_steps", "batch_size", "lr", "seed", "device",
                             "checkpoint_every", "progress", "warm_share"})
NUMERIC_KINDS = frozenset({"continuous", "integer", "datetime"})

Axes = dict[str, dict[int, str]]  # "module.param" -> {axis: layout name}


def dim_keys(gen: Generator) -> list[tuple]:
    """One key per encoded dim of a fitted table generator (see the module docstring)."""
    transformer = gen.transformer_
    keys: list[tuple] = []
    for span in transformer.spans:
        spec = transformer.schema_.column(span.column)
        if span.kind == "continuous":
            keys.append((span.column, "value"))
        elif span.role == "missing":
            keys += [(span.column, "present"), (span.column, "absent")]
        else:
            keys += [(span.column, "category", to_python(c)) for c in spec.categories]
            keys += [(span.column, "missing")] if spec.nullable else []
    return keys


def probe_info(info: DataInfo) -> DataInfo:
    """`info` with PROBE_CLASSES more classes and, for tables, one more categorical
    column (3 categories) and one more continuous column."""
    counts = (*info.class_counts, *[2] * PROBE_CLASSES)
    if info.modality != "table":
        return replace(info, n_classes=info.n_classes + PROBE_CLASSES, class_counts=counts)
    d = info.dim
    spans = (*info.spans, Span("<probe category>", d, d + 3, "softmax"),
             Span("<probe value>", d + 3, d + 4, "continuous"))
    return replace(info, n_classes=info.n_classes + PROBE_CLASSES, class_counts=counts,
                   dim=d + 4, spans=spans)


def _shapes(gen: Generator, info: DataInfo) -> dict[str, tuple[int, ...]]:
    """Shapes of every weight and buffer the family builds for `info` (a throwaway build)."""
    probe = copy.copy(gen)  # shares config and resolved_; _build rebinds what it sets
    probe.info_ = info
    with torch.random.fork_rng(devices=[]):
        probe._build(info)
    return {f"{key}.{name}": tuple(t.shape) for key, module in probe.modules_.items()
            for name, t in module.state_dict().items()}


def _layout_lengths(gen: Generator, info: DataInfo) -> dict[str, int]:
    dims = [("<dim>", i) for i in range(info.dim)]
    classes = [("<class>", i) for i in range(info.n_classes)]
    return {name: len(keys) for name, keys in gen._layouts(info, dims, classes).items()}


def data_axes(gen: Generator, info: DataInfo) -> Axes:
    """{"module.param": {axis: layout}} for every axis whose size follows the data."""
    here, there = _shapes(gen, info), _shapes(gen, probe_info(info))
    sizes, probed = _layout_lengths(gen, info), _layout_lengths(gen, probe_info(info))
    axes: Axes = {}
    for name, shape in here.items():
        for axis, (a, b) in enumerate(zip(shape, there[name], strict=True)):
            if a == b:
                continue
            fits = [k for k in sizes if (sizes[k], probed[k]) == (a, b)]
            if len(fits) != 1:
                raise ModelError(f"{gen.name}: axis {axis} of {name} follows the data but matches "
                                 f"{'no layout' if not fits else 'layouts ' + ', '.join(fits)}; "
                                 "declare it in the family's _layouts")
            axes.setdefault(name, {})[axis] = fits[0]
    return axes


def layouts(gen: Generator) -> dict[str, list]:
    """The key lists of a fitted generator's layouts."""
    dims = dim_keys(gen) if gen.info_.modality == "table" else []
    return gen._layouts(gen.info_, dims, list(gen.classes_))


def weights_digest(gen: Generator) -> str:
    """sha256 of a model's weights (names and bytes, in name order)."""
    digest = hashlib.sha256()
    for key in sorted(gen.modules_):
        state = gen.modules_[key].state_dict()
        for name in sorted(state):
            digest.update(f"{key}.{name}".encode())
            digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_compatible(new: Generator, parent: Generator) -> None:
    """Raise IncompatibleModelError naming what makes `parent` unusable as a warm start
    for `new` (prepared, not yet built): family, modality, image shape, columns, a
    column's kind, network hyperparameters."""
    if parent.name != new.name:
        raise IncompatibleModelError(f"init_from is a {parent.name} model; this is a {new.name} "
                                     "generator (warm starts need the same family)")
    if not hasattr(parent, "modules_"):
        raise IncompatibleModelError("init_from is not fitted: fit it or load a saved model")
    old, now = parent.info_.modality, new.info_.modality
    if old != now:
        raise IncompatibleModelError(f"init_from was fitted on {old}s; this data is {now}s")
    if now == "image":
        if parent.info_.image_shape != new.info_.image_shape:
            raise IncompatibleModelError(f"init_from was fitted on images of shape (C, H, W) = "
                                         f"{parent.info_.image_shape}; these are "
                                         f"{new.info_.image_shape}")
    else:
        _check_columns(parent, new)
    differ = {k: (getattr(parent.config, k), v) for k, v in asdict(new.config).items()
              if k not in SCHEDULE_FIELDS and getattr(parent.config, k, v) != v}
    shaping = {k: pair for k, pair in differ.items() if _shapes_differ(new, k, pair[0])}
    if shaping:
        text = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in shaping.items())
        raise IncompatibleModelError(f"init_from has other network sizes: {text}")


def _check_columns(parent: Generator, new: Generator) -> None:
    old = {c.name: c.kind for c in parent.transformer_.schema_.columns}
    now = {c.name: c.kind for c in new.transformer_.schema_.columns}
    gone, added = sorted(set(old) - set(now)), sorted(set(now) - set(old))
    if gone or added:
        parts = ([f"missing here {gone}"] if gone else []) + ([f"new here {added}"] if added else [])
        raise IncompatibleModelError(f"init_from was fitted on other columns: {'; '.join(parts)}")
    for name, kind in now.items():
        if (kind in NUMERIC_KINDS) != (old[name] in NUMERIC_KINDS):
            raise IncompatibleModelError(f"column {name!r} was {old[name]} in init_from and is "
                                         f"{kind} now")


def _shapes_differ(new: Generator, field: str, old_value: Any) -> bool:
    """Whether building with the parent's value of `field` changes any weight's shape."""
    other = copy.copy(new)
    other.config = replace(new.config, **{field: old_value})
    return _shapes(other, new.info_) != _shapes(new, new.info_)


@torch.no_grad()
def copy_weights(new: Generator, parent: Generator) -> dict[str, Any]:
    """Copy `parent`'s weights into `new`'s freshly built modules, key by key.

    Returns what was mapped: {"classes": {"kept", "new", "dropped"}, "dims": {...}}
    (tables), for the lineage record.
    """
    new_axes, old_axes = data_axes(new, new.info_), data_axes(parent, parent.info_)
    new_keys, old_keys = layouts(new), layouts(parent)
    for key, module in new.modules_.items():
        state, old_state = module.state_dict(), parent.modules_[key].state_dict()
        for name, tensor in state.items():
            full = f"{key}.{name}"
            if name not in old_state:
                raise IncompatibleModelError(f"init_from lacks the weight {full}")
            old = old_state[name].to(tensor.device)
            axes, parent_axes = new_axes.get(full, {}), old_axes.get(full, {})
            fixed = [i for i, (a, b) in enumerate(zip(tensor.shape, old.shape, strict=True))
                     if i not in axes and a != b]
            if set(axes) != set(parent_axes) or fixed or tensor.dim() != old.dim():
                raise IncompatibleModelError(f"weight {full} is {tuple(old.shape)} in init_from and "
                                             f"{tuple(tensor.shape)} here")
            # by key, also across layouts (a parent without the null class, a child with it)
            maps = {axis: _index_map(new_keys[layout], old_keys[parent_axes[axis]])
                    for axis, layout in axes.items()}
            _copy_along(tensor, old, maps)
    return _summary(new_keys, old_keys)


def _index_map(new_keys: list, old_keys: list) -> torch.Tensor:
    """[len(new_keys)] index of each new key among the old ones, -1 when new."""
    where = {k: i for i, k in enumerate(old_keys)}
    return torch.tensor([where.get(k, -1) for k in new_keys], dtype=torch.long)


def _copy_along(target: torch.Tensor, source: torch.Tensor, maps: dict[int, torch.Tensor]) -> None:
    """target[i, j, ...] = source[map0[i], map1[j], ...] where every mapped index exists;
    unmapped axes are taken whole."""
    if target.dim() == 0:
        target.copy_(source)
        return
    new_index, old_index = [], []
    for axis, size in enumerate(target.shape):
        view = [1] * target.dim()
        view[axis] = -1
        if axis in maps:
            kept = torch.nonzero(maps[axis] >= 0).flatten()
            new_index.append(kept.view(view))
            old_index.append(maps[axis][kept].view(view))
        else:
            full = torch.arange(size)
            new_index.append(full.view(view))
            old_index.append(full.view(view))
    target[tuple(i.to(target.device) for i in new_index)] = \
        source[tuple(i.to(source.device) for i in old_index)]


def _summary(new_keys: dict[str, list], old_keys: dict[str, list]) -> dict[str, Any]:
    def diff(name: str) -> dict[str, list]:
        a, b = new_keys[name], old_keys[name]
        return {"kept": len([k for k in a if k in set(b)]),
                "new": [_text(k) for k in a if k not in set(b)],
                "dropped": [_text(k) for k in b if k not in set(a)]}

    out = {"classes": diff("classes")}
    if new_keys.get("dims"):
        out["dims"] = diff("dims")
    return out


def _text(key: Any) -> Any:
    return "/".join(str(p) for p in key) if isinstance(key, tuple) else to_python(key)


@torch.no_grad()
def classes_from_null(gen: Generator) -> None:
    """Set every class row of every class+null axis to the null row: after pretraining
    each class starts as the unconditional model and fine-tuning learns the differences."""
    axes = data_axes(gen, gen.info_)
    n = gen.info_.n_classes
    for key, module in gen.modules_.items():
        for name, tensor in module.state_dict().items():
            for axis, layout in axes.get(f"{key}.{name}", {}).items():
                if layout == "classes+null":
                    null = tensor.narrow(axis, n, 1)
                    tensor.narrow(axis, 0, n).copy_(null.expand_as(tensor.narrow(axis, 0, n)))


def pool_digest(pool: np.ndarray) -> str:
    """sha256 of an encoded pretraining pool (for the checkpoint key)."""
    return hashlib.sha256(np.ascontiguousarray(pool).tobytes()).hexdigest()


def widen_schema(schema: TableSchema, pool: pd.DataFrame) -> TableSchema:
    """`schema` with the categories (after the known ones) and missing values that the
    unlabelled `pool` adds, so that the transformer can encode the pool too."""
    columns = []
    for spec in schema.columns:
        if spec.name not in pool.columns:
            columns.append(spec)
            continue
        values = pool[spec.name]
        nullable = spec.nullable or bool(values.isna().any())
        categories = spec.categories
        if spec.kind == "categorical":
            known = set(spec.categories or [])
            extra = sorted({to_python(v) for v in values.dropna().unique()} - known, key=str)
            categories = [*(spec.categories or []), *extra]
        columns.append(replace(spec, nullable=nullable, categories=categories))
    return replace(schema, columns=columns)
