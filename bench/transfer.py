"""Transfer-learning benchmark: warm starts across versions, pretraining on unlabelled rows.

    python -m bench.transfer [--part versions lowdata] [--datasets breast_cancer digits adult]
        [--generators vae gan diffusion]

- versions: each dataset split stratified 70/15/15 (train/val/test); v2 is the whole
  training split, v1 a stratified 60% of it. Per family: a cold fit on v1 (the parent), a
  cold fit on v2 and a warm fit on v2 from the parent (`warm_share` 0.25: a quarter of
  the cold optimizer steps). Both v2 models go through the real gate (training split vs
  the validation split) and the downstream comparison (macro-F1 on the test split,
  300-tree RandomForest, mean over 3 seeds; real only and SMOTE beside them).
  digits: classes 5-9 thinned to 10% first, `balance` policy; breast_cancer: `balance`;
  adult: `balance 0.5` (full balance lowers macro-F1 for every method, NOTES.md).
- lowdata: digits split 70/30, 20 labelled images per class, the rest of the training
  split (labels dropped) as the unlabelled pool, `ratio 2` policy. Per family: a cold
  fit and a fit with `pretrain=pool`, both at min_steps 1500 (below it no family helps,
  NOTES.md); macro-F1 beside real only, SMOTE and shifted copies.

Writes bench/results/transfer.json; the README quotes it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from augment.data import limit_per_class, load_dataset, make_dataset, thin_classes
from augment.downstream import compare, training_sets
from augment.generators import get_generator
from augment.sampling import policy_counts
from augment.validate.gate import LabelledData, run_gate
from bench.common import ADULT, digits_split

RESULTS = Path(__file__).parent / "results" / "transfer.json"
POLICY = {"digits": ("balance", 1.0), "breast_cancer": ("balance", 1.0), "adult": ("balance", 0.5)}
SEEDS = (0, 1, 2)


def versions_data(dataset: str):
    """(v1 X, v1 y, v2 X, v2 y, val X, val y, test X, test y) of a dataset."""
    ds = (load_dataset(str(ADULT), target="class") if dataset == "adult"
          else load_dataset(f"builtin:{dataset}"))
    X_tr, X_rest, y_tr, y_rest = train_test_split(ds.X, ds.y, test_size=0.3, stratify=ds.y,
                                                  random_state=0)
    X_val, X_te, y_val, y_te = train_test_split(X_rest, y_rest, test_size=0.5, stratify=y_rest,
                                                random_state=0)
    if dataset == "digits":
        thinned = thin_classes(make_dataset("digits", X_tr, y_tr), [5, 6, 7, 8, 9], 0.1, seed=0)
        X_tr, y_tr = thinned.X, thinned.y
    X_v1, _, y_v1, _ = train_test_split(X_tr, y_tr, train_size=0.6, stratify=y_tr, random_state=0)
    return X_v1, y_v1, X_tr, y_tr, X_val, y_val, X_te, y_te


def forest_macro_f1(X, y, synthetic: dict, counts: dict, test: tuple, name: str) -> dict:
    """{"macro_f1": {set: mean}, "macro_f1_sd": {set: sd}} of the 300-tree forest over SEEDS,
    trained on real only, SMOTE (and classic transforms) and real + each synthetic set;
    printed under `name`."""
    scores = compare(training_sets(X, y, synthetic, counts, seed=0), test, ["random_forest"],
                     seeds=SEEDS)
    out = {f"macro_f1{suffix}": {s: round(scores[s]["random_forest"]["macro_f1"][key], 4)
                                 for s in scores} for suffix, key in (("", "mean"), ("_sd", "sd"))}
    print(f"  {name} macro-F1: {out['macro_f1']}", flush=True)
    return out


def steps(gen, rows: int) -> int:
    """Optimizer steps a fit took: epochs x full batches per epoch."""
    return gen.resolved_["epochs"] * (rows // min(gen.config.batch_size, rows))


def timed_fit(name: str, X, y, **fit):
    start = time.perf_counter()
    gen = get_generator(name, progress="never").fit(X, y, **fit)
    return gen, round(time.perf_counter() - start, 1)


def gate_figures(X, y, syn, X_val, y_val, counts) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = run_gate(LabelledData(X, y), LabelledData(*syn), LabelledData(X_val, y_val),
                          {str(k): v for k, v in counts.items()}, Path(tmp) / "gate")
    return {k: round(v, 4) for k, v in report.figures().items()}


def run_versions(dataset: str, generators: list[str]) -> dict:
    X1, y1, X2, y2, X_val, y_val, X_te, y_te = versions_data(dataset)
    labels, numbers = np.unique(y2, return_counts=True)
    counts = policy_counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)),
                           *POLICY[dataset])
    out: dict = {"rows": {"v1": len(y1), "v2": len(y2)}, "policy": list(POLICY[dataset])}
    synthetic = {}
    for name in generators:
        parent, parent_s = timed_fit(name, X1, y1)
        cold, cold_s = timed_fit(name, X2, y2)
        warm, warm_s = timed_fit(name, X2, y2, init_from=parent)
        row = {"v1_fit_s": parent_s}
        for kind, gen, seconds in (("cold", cold, cold_s), ("warm", warm, warm_s)):
            syn = gen.sample(counts, seed=1)
            synthetic[f"{name}-{kind}"] = syn
            row[kind] = {"steps": steps(gen, len(y2)), "fit_s": seconds,
                         "gate": gate_figures(X2, y2, syn, X_val, y_val, counts)}
        out[name] = row
        print(f"  {dataset}/{name}: {json.dumps(row)}", flush=True)
    out.update(forest_macro_f1(X2, y2, synthetic, counts, (X_te, y_te), dataset))
    return out


def run_lowdata(generators: list[str]) -> dict:
    X_tr, X_te, y_tr, y_te = digits_split()
    train = make_dataset("digits", X_tr, y_tr)
    few = limit_per_class(train, 20, seed=0)
    # the pool: every training image not among the labelled ones (labels dropped)
    chosen = {X.tobytes() for X in few.X}
    pool = np.stack([x for x in X_tr if x.tobytes() not in chosen])
    labels, numbers = np.unique(few.y, return_counts=True)
    counts = policy_counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)), "ratio", 2.0)
    out: dict = {"labelled": len(few.y), "pool": len(pool), "policy": ["ratio", 2.0]}
    synthetic = {}
    for name in generators:
        row = {}
        for kind, fit in (("cold", {}), ("pretrained", {"pretrain": pool})):
            start = time.perf_counter()
            gen = get_generator(name, progress="never", min_steps=1500).fit(few.X, few.y, **fit)
            synthetic[f"{name}-{kind}"] = gen.sample(counts, seed=1)
            row[kind] = {"fit_s": round(time.perf_counter() - start, 1),
                         "epochs": gen.resolved_["epochs"],
                         "pretrain_epochs": gen.resolved_.get("pretrain_epochs", 0)}
        out[name] = row
        print(f"  lowdata/{name}: {json.dumps(row)}", flush=True)
    out.update(forest_macro_f1(few.X, few.y, synthetic, counts, (X_te, y_te), "lowdata"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", nargs="+", default=["versions", "lowdata"],
                        choices=["versions", "lowdata"])
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "digits"],
                        choices=sorted(POLICY))
    parser.add_argument("--generators", nargs="+", default=["vae", "gan", "diffusion"])
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if "versions" in args.part:
        for dataset in args.datasets:  # what is not run keeps its earlier figures
            results.setdefault("versions", {})[dataset] = run_versions(dataset, args.generators)
            RESULTS.write_text(json.dumps(results, indent=2))
    if "lowdata" in args.part:
        results["lowdata"] = run_lowdata(args.generators)
        RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
