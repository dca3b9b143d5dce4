"""The `augment` command.

Every user error (an `AugmentError`) prints one line `augment: error: ...` and exits
with status 2; heavy libraries are imported inside the subcommands that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from augment.errors import AugmentError


def _parse_overrides(pairs: Sequence[str] | None, drop: Sequence[str] | None) -> dict[str, str]:
    overrides = {name: "drop" for name in drop or []}
    for pair in pairs or []:
        name, sep, kind = pair.partition("=")
        if not sep:
            raise AugmentError(f"--declare expects COLUMN=KIND, got {pair!r}")
        overrides[name] = kind
    return overrides


def cmd_datasets(args: argparse.Namespace) -> int:
    from augment.data.sources import BUILTIN

    for name, description in BUILTIN.items():
        print(f"builtin:{name:<14} {description}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from augment.data import load_dataset

    overrides = _parse_overrides(args.declare, args.drop)
    ds = load_dataset(args.source, target=args.target, overrides=overrides)
    if args.json:
        payload = {
            "name": ds.name,
            "modality": ds.modality,
            "rows": len(ds),
            "classes": ds.class_counts(),
            "fingerprint": ds.fingerprint,
            "schema": json.loads(ds.schema.to_json()) if ds.schema else None,
            "shape": list(ds.X.shape[1:]) if ds.modality == "image" else None,
        }
        print(json.dumps(payload, indent=2, default=str))
        return 0
    print(f"dataset      {ds.name} ({ds.modality}, {len(ds)} rows)")
    print(f"fingerprint  {ds.fingerprint}")
    if ds.modality == "image":
        print(f"images       shape {ds.X.shape[1:]}, dtype {ds.X.dtype}, "
              f"values {ds.X.min()}..{ds.X.max()}")
    else:
        print(f"target       {ds.target}")
        print(f"{'column':<24}{'kind':<13}{'dtype':<10}{'missing':>8}  values")
        for c in ds.schema.columns:
            if c.categories is not None:
                shown = ", ".join(map(str, c.categories[:6]))
                values = f"{len(c.categories)} categories: {shown}"
                values += ", ..." if len(c.categories) > 6 else ""
            elif c.min is not None:
                values = f"{c.min:g} .. {c.max:g}"
            else:
                values = ""
            print(f"{c.name:<24}{c.kind:<13}{c.dtype:<10}{c.null_rate:>7.1%}  {values}")
        for note in ds.schema.notes:
            print(f"note: {note}")
    print("class counts")
    total = len(ds)
    for label, count in ds.class_counts().items():
        print(f"  {label!s:<20}{count:>8}  {count / total:6.1%}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="augment",
        description="Class-conditional synthetic data augmentation: fit generators, sample "
        "exact per-class counts, validate and publish.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("datasets", help="list builtin datasets")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("inspect", help="print schema, class counts and fingerprint of a dataset")
    p.add_argument("source", help="builtin:NAME, a .csv/.parquet/.npz file or an image folder")
    p.add_argument("--target", help="label column of a table")
    p.add_argument("--drop", action="append", metavar="COLUMN", help="drop a column (repeatable)")
    p.add_argument("--declare", action="append", metavar="COLUMN=KIND",
                   help="declare a column's kind: continuous|integer|categorical|datetime")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except AugmentError as err:
        print(f"augment: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("augment: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
