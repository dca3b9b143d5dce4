"""Stage `prepare`: raw dataset -> data/prepared/<ds>/{train,val,test} + schema.json.

    python -m pipelines.prepare [--dataset NAME ...] [--params params.yaml]

The optional `thin` setting of a dataset removes most rows of some classes from the
training split only (val/test keep the real distribution), to build an imbalanced
scenario from balanced data.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from augment.data import limit_per_class, load_dataset, stratified_split, thin_classes
from augment.data.storage import split_filename, write_split
from augment.errors import AugmentError, ConfigError
from augment.io import atomic_dir, write_json
from augment.workspace import INFO_FILE, SCHEMA_FILE, Workspace
from pipelines.common import add_workspace_args, setup_logging, workspace_of
from pipelines.params import check_params, dataset_params, load_params, prepare_params

log = logging.getLogger("augment.pipelines")


def prepare(ws: Workspace, name: str, params: dict) -> Path:
    """Load, split and write dataset `name`; returns its prepared folder."""
    ds_params = dataset_params(params, name)
    split = prepare_params(params)
    overrides = {c: "drop" for c in ds_params.drop} | ds_params.declare
    ds = load_dataset(ds_params.source, ds_params.target, overrides=overrides or None)
    train, val, test = stratified_split(ds, split.val, split.test, seed=split.seed)
    if ds_params.thin:
        train = thin_classes(train, ds_params.thin.classes, ds_params.thin.keep, seed=split.seed)
    if ds_params.per_class:
        train = limit_per_class(train, ds_params.per_class, seed=split.seed)
    out = ws.prepared(name)
    log.info("prepare %s: %d train, %d val, %d test rows -> %s", name, len(train), len(val),
             len(test), out)
    with atomic_dir(out, "prepared") as tmp:
        for split_name, part in (("train", train), ("val", val), ("test", test)):
            write_split(part, tmp / split_filename(ds, split_name))
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
        })
    return out


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
