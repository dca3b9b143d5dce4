"""Stage `prepare`: raw dataset -> data/prepared/<ds>/{train,val,test} + schema.json.

    python -m pipelines.prepare [--dataset NAME ...] [--params params.yaml]

The optional `thin` setting of a dataset removes most rows of some classes from the
training split only (val/test keep the real distribution), to build an imbalanced
scenario from balanced data; `per_class` keeps at most that many rows per class. The
optional `unlabelled` setting adds a fourth split of rows without labels, which the train
stage pretrains on: a source, or `dropped` (the training rows thin / per_class removed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from augment.data import Dataset, load_dataset, stratified_split
from augment.data.split import per_class_index, thin_index
from augment.data.storage import split_filename, unlabelled_filename, write_split, write_unlabelled
from augment.data.unlabelled import check_unlabelled, load_unlabelled
from augment.errors import AugmentError, ConfigError, DataError
from augment.io import atomic_dir, write_json
from augment.workspace import INFO_FILE, SCHEMA_FILE, Workspace
from pipelines.common import add_workspace_args, setup_logging, workspace_of
from pipelines.params import (
    DROPPED,
    DatasetParams,
    check_params,
    dataset_params,
    load_params,
    prepare_params,
)

log = logging.getLogger("augment.pipelines")


def prepare(ws: Workspace, name: str, params: dict) -> Path:
    """Load, split and write dataset `name`; returns its prepared folder."""
    ds_params = dataset_params(params, name)
    split = prepare_params(params)
    overrides = {c: "drop" for c in ds_params.drop} | ds_params.declare
    ds = load_dataset(ds_params.source, ds_params.target, overrides=overrides or None)
    train, val, test = stratified_split(ds, split.val, split.test, seed=split.seed)
    train, dropped = scenario(train, ds_params, split.seed)
    unlabelled = unlabelled_rows(name, ds_params, train, dropped)
    out = ws.prepared(name)
    log.info("prepare %s: %d train, %d val, %d test%s rows -> %s", name, len(train), len(val),
             len(test), "" if unlabelled is None else f", {len(unlabelled)} unlabelled", out)
    with atomic_dir(out, "prepared") as tmp:
        for split_name, part in (("train", train), ("val", val), ("test", test)):
            write_split(part, tmp / split_filename(ds, split_name))
        if unlabelled is not None:
            write_unlabelled(tmp / unlabelled_filename(ds), unlabelled)
        if ds.schema is not None:
            ds.schema.save(tmp / SCHEMA_FILE)
        write_json(tmp / INFO_FILE, {
            "name": name,
            "source": ds_params.source,
            "modality": ds.modality,
            "fingerprint": ds.fingerprint,
            "classes": ds.classes,
            "counts": {k: p.class_counts() for k, p in
                       (("train", train), ("val", val), ("test", test))},
            "unlabelled": None if unlabelled is None else {"source": ds_params.unlabelled,
                                                           "rows": len(unlabelled)},
        })
    return out


def scenario(train: Dataset, ds_params: DatasetParams, seed: int) -> tuple[Dataset, Dataset | None]:
    """(the training split after `thin` and `per_class`, the rows they removed or None)."""
    if not (ds_params.thin or ds_params.per_class):
        return train, None
    kept = np.arange(len(train))
    if ds_params.thin:
        kept = thin_index(train, ds_params.thin.classes, ds_params.thin.keep, seed=seed)
    if ds_params.per_class:
        kept = kept[per_class_index(train.subset(kept), ds_params.per_class, seed=seed)]
    removed = np.setdiff1d(np.arange(len(train)), kept)
    return train.subset(kept), (train.subset(removed) if len(removed) else None)


def unlabelled_rows(name: str, ds_params: DatasetParams, train: Dataset, dropped: Dataset | None
                    ) -> pd.DataFrame | np.ndarray | None:
    """The rows of `datasets.<name>.unlabelled`, checked against the training split; None
    when the dataset has none."""
    source = ds_params.unlabelled
    if source is None:
        return None
    where = f"datasets.{name}.unlabelled ({source})"
    if source == DROPPED:
        if dropped is None:
            raise DataError(f"{where}: thin / per_class removed no training rows, so there are "
                            "none to pretrain on; remove the key or keep fewer rows")
        return check_unlabelled(dropped.X, train, where)
    return check_unlabelled(load_unlabelled(source, ds_params.target, ds_params.drop), train, where)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", help="dataset name (default: all)")
    add_workspace_args(parser)
    args = parser.parse_args(argv)
    setup_logging()
    ws, source = workspace_of(args)
    try:
        params = load_params(source)
    except AugmentError as err:
        print(f"prepare: error: {err}", file=sys.stderr)
        return 2
    try:
        names = args.dataset or list(params.get("datasets") or {})
        for name in names:  # a bad key in any section fails now, not after training
            check_params(params, name)
        for name in names:
            out = prepare(ws, name, params)
            print(f"prepared {name} -> {out}")
    except ConfigError as err:  # a parameter: say which file it came from
        print(f"prepare: error: {source}: {err}", file=sys.stderr)
        return 2
    except AugmentError as err:
        print(f"prepare: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
