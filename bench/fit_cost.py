"""Fit cost on small tables, side by side with SDV's TVAE at its defaults, and TSTR.

SDV is never a dependency of augment: TVAE runs in the bench-only environment
(.venv-peers: `python3 -m venv .venv-peers && .venv-peers/bin/pip install "torch==2.13.0"
&& .venv-peers/bin/pip install sdv`). The three steps run one after another on the same
machine, exchanging CSV files:

    .venv/bin/python -m bench.fit_cost export --data /tmp/fitcost
    .venv-peers/bin/python -m bench.fit_cost tvae --data /tmp/fitcost
    .venv/bin/python -m bench.fit_cost ours --data /tmp/fitcost [--families vae gan ...]

`ours` fits every family on every table (fit seconds, as the library's `fit` reports
them), samples the training split's class counts, and scores TSTR macro-F1 on the real
test split for each family and for TVAE's rows (the same classifier and encoding:
`augment.validate.metrics.tstr`). Writes bench/results/fit_cost.json with the machine's
cores and load. The tvae step imports nothing of augment: this module's top level uses the
standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "fit_cost.json"
FAMILIES = ("vae", "gan", "diffusion", "autoregressive")
TARGET = "label"
# (name, source, rows kept before the 70/30 split): 105 to 1,400 training rows
TABLES = (("iris", "builtin:iris", None), ("wine", "sklearn:wine", None),
          ("breast_cancer", "builtin:breast_cancer", None), ("adult_2000", "adult", 2000))


def _table(source: str, rows: int | None):
    """(X DataFrame, y array) of one bench table."""
    import numpy as np
    import pandas as pd

    from augment.data import load_dataset
    from bench.common import ADULT

    if source == "sklearn:wine":
        from sklearn.datasets import load_wine

        X, y = load_wine(return_X_y=True, as_frame=True)
        return X, y.to_numpy()
    ds = load_dataset(str(ADULT) if source == "adult" else source,
                      target="class" if source == "adult" else None)
    X, y = (ds.X if isinstance(ds.X, pd.DataFrame) else pd.DataFrame(ds.X)), np.asarray(ds.y)
    if rows is not None and rows < len(y):
        keep = np.random.default_rng(0).choice(len(y), size=rows, replace=False)
        X, y = X.iloc[np.sort(keep)].reset_index(drop=True), y[np.sort(keep)]
    return X, y


def export(data: Path) -> None:
    """Write <table>_train.csv and <table>_test.csv (stratified 70/30, seed 0)."""
    from sklearn.model_selection import train_test_split

    data.mkdir(parents=True, exist_ok=True)
    for name, source, rows in TABLES:
        X, y = _table(source, rows)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        X_tr.assign(**{TARGET: y_tr}).to_csv(data / f"{name}_train.csv", index=False)
        X_te.assign(**{TARGET: y_te}).to_csv(data / f"{name}_test.csv", index=False)
        print(f"  {name}: {len(y_tr)} training rows, {X.shape[1]} columns", flush=True)


def tvae(data: Path) -> None:
    """SDV TVAESynthesizer at its defaults on each training CSV: fit seconds, and as many
    rows as the training split (the label is one more column to it) in tvae_<table>.csv."""
    import pandas as pd
    import sdv
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import TVAESynthesizer

    timing = {}
    for name, _, _ in TABLES:
        train = pd.read_csv(data / f"{name}_train.csv")
        metadata = Metadata.detect_from_dataframes({name: train})
        synthesizer = TVAESynthesizer(metadata)  # defaults: 300 epochs, batch 500
        start = time.perf_counter()
        synthesizer.fit({name: train})
        timing[name] = round(time.perf_counter() - start, 2)
        rows = synthesizer.sample(len(train))  # SDV 2 takes and returns {table: frame}
        (rows[name] if isinstance(rows, dict) else rows).to_csv(data / f"tvae_{name}.csv", index=False)
        print(f"  {name}: TVAE fit {timing[name]} s", flush=True)
    (data / "tvae.json").write_text(json.dumps({
        "sdv": sdv.__version__, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "fit_s": timing, "load_avg": [round(x, 2) for x in os.getloadavg()]}))


def ours(data: Path, families: list[str], params: dict) -> dict:
    """Fit each family on each table; TSTR of its rows and of TVAE's; results by table."""
    import numpy as np
    import pandas as pd

    from augment.generators import get_generator
    from augment.validate import metrics
    from bench.common import machine

    peer = json.loads((data / "tvae.json").read_text()) if (data / "tvae.json").exists() else None
    results: dict = {"machine": machine(), "tvae": {k: v for k, v in (peer or {}).items()
                                                     if k != "fit_s"}}
    for name, _, _ in TABLES:
        train, test = pd.read_csv(data / f"{name}_train.csv"), pd.read_csv(data / f"{name}_test.csv")
        X_tr, y_tr = train.drop(columns=TARGET), train[TARGET].to_numpy()
        X_te, y_te = test.drop(columns=TARGET), test[TARGET].to_numpy()
        row: dict = {"train_rows": len(y_tr), "columns": X_tr.shape[1],
                     "real_tstr": round(metrics.tstr(X_tr, X_tr, y_tr, X_te, y_te), 4)}
        if peer is not None:
            rows = pd.read_csv(data / f"tvae_{name}.csv")
            row["tvae"] = {"fit_s": peer["fit_s"][name], "tstr": round(metrics.tstr(
                X_tr, rows.drop(columns=TARGET), rows[TARGET].to_numpy(), X_te, y_te), 4)}
        labels, numbers = np.unique(y_tr, return_counts=True)
        counts = dict(zip(labels.tolist(), numbers.tolist(), strict=True))
        for family in families:
            gen = get_generator(family, progress="never", **params.get(family, {}))
            start = time.perf_counter()
            gen.fit(X_tr, y_tr)
            fit_s = time.perf_counter() - start
            X_syn, y_syn = gen.sample(counts, seed=1)
            batch = min(gen.config.batch_size, len(y_tr))
            row[family] = {"fit_s": round(fit_s, 2),
                           "steps": gen.resolved_["epochs"] * (len(y_tr) // batch),
                           "tstr": round(metrics.tstr(X_tr, X_syn, y_syn, X_te, y_te), 4)}
        print(f"{name}: {json.dumps(row)}", flush=True)
        results[name] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["export", "tvae", "ours"])
    parser.add_argument("--data", type=Path, required=True, help="folder for the CSV files")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--params", default="{}", help='JSON {"vae": {"min_steps": 1000}}')
    parser.add_argument("--label", default="current", help="key of this run in the results")
    args = parser.parse_args()
    if args.step == "export":
        export(args.data)
    elif args.step == "tvae":
        tvae(args.data)
    else:
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        results[args.label] = ours(args.data, args.families, json.loads(args.params))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2))
        print(f"wrote {RESULTS} [{args.label}]")


if __name__ == "__main__":
    main()
