"""Transfer-learning benchmark: warm starts across versions, pretraining on unlabelled rows.

    python -m bench.transfer [--part versions lowdata] [--datasets breast_cancer digits adult]
        [--generators vae gan diffusion] [--lowdata-min-steps 4000]

- versions: each dataset split stratified 70/15/15 (train/val/test); v2 is the whole
  training split, v1 a stratified 60% of it. Per family: a cold fit on v1 (the parent), a
  cold fit on v2 and a warm fit on v2 from the parent (`warm_share` 0.25: a quarter of
  the cold optimizer steps), each for FIT_SEEDS generator seeds. Every v2 model goes
  through the real gate (training split vs the validation split) and the downstream
  comparison (macro-F1 on the test split, 300-tree RandomForest, mean over 3 forest
  seeds; real only and SMOTE beside them); each arm is summarised as the mean and sd over
  its fits, and warm "reaches" cold when it is not lower by more than two standard
  errors of the difference.
  digits: classes 5-9 thinned to 10% first, `balance` policy; breast_cancer: `balance`;
  adult: `balance 0.5` (full balance lowers macro-F1 for every method, NOTES.md).
- lowdata: digits split 70/30, 20 labelled images per class, the rest of the training
  split (labels dropped) as the unlabelled pool, `ratio 2` policy. Per family and fit
  seed: a cold fit and a fit with `pretrain=pool`, both at `--lowdata-min-steps` (default
  4000; at 1500 every family ties SMOTE, README); macro-F1 beside real only, SMOTE and
  shifted copies.

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
from bench.common import ADULT, digits_split, machine

RESULTS = Path(__file__).parent / "results" / "transfer.json"
POLICY = {"digits": ("balance", 1.0), "breast_cancer": ("balance", 1.0), "adult": ("balance", 0.5)}
SEEDS = (0, 1, 2)  # forest seeds per synthetic set
FIT_SEEDS = (0, 1, 2)  # generator seeds per arm


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


def timed_fit(name: str, X, y, seed: int = 0, **fit):
    start = time.perf_counter()
    gen = get_generator(name, progress="never", seed=seed).fit(X, y, **fit)
    return gen, round(time.perf_counter() - start, 1)


def gate_figures(X, y, syn, X_val, y_val, counts) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = run_gate(LabelledData(X, y), LabelledData(*syn), LabelledData(X_val, y_val),
                          {str(k): v for k, v in counts.items()}, Path(tmp) / "gate")
    return {k: round(v, 4) for k, v in report.figures().items()}


def run_versions(dataset: str, generators: list[str]) -> dict:
    """Per family and fit seed: a v1 parent, a cold v2 fit and a warm v2 fit from the parent,
    each gated and scored downstream; the mean and sd over FIT_SEEDS (a fit's own seed moves
    macro-F1 as much as warm against cold does, so one fit per arm says nothing)."""
    X1, y1, X2, y2, X_val, y_val, X_te, y_te = versions_data(dataset)
    labels, numbers = np.unique(y2, return_counts=True)
    counts = policy_counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)),
                           *POLICY[dataset])
    out: dict = {"machine": machine(), "rows": {"v1": len(y1), "v2": len(y2)},
                 "policy": list(POLICY[dataset]), "fit_seeds": list(FIT_SEEDS)}
    synthetic, runs = {}, {}
    for name in generators:
        for seed in FIT_SEEDS:
            parent, _ = timed_fit(name, X1, y1, seed=seed)
            cold, cold_s = timed_fit(name, X2, y2, seed=seed)
            warm, warm_s = timed_fit(name, X2, y2, seed=seed, init_from=parent)
            for kind, gen, seconds in (("cold", cold, cold_s), ("warm", warm, warm_s)):
                syn = synthetic[(name, kind, seed)] = gen.sample(counts, seed=1)
                runs[(name, kind, seed)] = {
                    "seed": seed, "steps": steps(gen, len(y2)), "fit_s": seconds,
                    "gate": gate_figures(X2, y2, syn, X_val, y_val, counts)}
            print(f"  {dataset}/{name} seed {seed}: cold {cold_s} s, warm {warm_s} s", flush=True)
    scores = forest_macro_f1(X2, y2, {"-".join(map(str, k)): v for k, v in synthetic.items()},
                             counts, (X_te, y_te), dataset)["macro_f1"]
    out["baselines"] = {k: scores[k] for k in scores if k in ("real_only", "smote", "classic")}
    for key, row in runs.items():
        row["macro_f1"] = scores["-".join(map(str, key))]
    for name in generators:
        out[name] = {kind: summarise([runs[(name, kind, s)] for s in FIT_SEEDS])
                     for kind in ("cold", "warm")}
        out[name]["verdict"] = verdict(out[name]["cold"], out[name]["warm"])
        print(f"  {dataset}/{name}: {json.dumps(out[name]['verdict'])}", flush=True)
    return out


def summarise(rows: list[dict]) -> dict:
    """The runs of one arm and their mean / sd macro-F1, gate passes and fit time."""
    f1 = np.array([r["macro_f1"] for r in rows])
    return {"macro_f1": round(float(f1.mean()), 4), "macro_f1_sd": round(float(f1.std(ddof=1)), 4),
            **({"gate_passed": int(sum(r["gate"]["passed"] for r in rows))} if "gate" in rows[0] else {}),
            "steps": rows[0]["steps"], "fit_s": round(float(np.mean([r["fit_s"] for r in rows])), 1),
            "runs": rows}


def verdict(cold: dict, warm: dict) -> dict:
    """Whether warm reaches cold: its mean macro-F1 is not below cold's by more than two
    standard errors of the difference of the means (about a 95% one-sided margin)."""
    n = len(cold["runs"])
    se = float(np.hypot(cold["macro_f1_sd"], warm["macro_f1_sd"]) / np.sqrt(n))
    delta = warm["macro_f1"] - cold["macro_f1"]
    return {"delta": round(delta, 4), "se": round(se, 4), "reaches_cold": bool(delta >= -2 * se),
            "step_share": round(warm["steps"] / cold["steps"], 3)}


def run_lowdata(generators: list[str], min_steps: int) -> dict:
    X_tr, X_te, y_tr, y_te = digits_split()
    train = make_dataset("digits", X_tr, y_tr)
    few = limit_per_class(train, 20, seed=0)
    # the pool: every training image not among the labelled ones (labels dropped)
    chosen = {X.tobytes() for X in few.X}
    pool = np.stack([x for x in X_tr if x.tobytes() not in chosen])
    labels, numbers = np.unique(few.y, return_counts=True)
    counts = policy_counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)), "ratio", 2.0)
    out: dict = {"machine": machine(), "labelled": len(few.y), "pool": len(pool),
                 "policy": ["ratio", 2.0],
                 "min_steps": min_steps, "fit_seeds": list(FIT_SEEDS)}
    synthetic, runs = {}, {}
    for name in generators:
        for seed in FIT_SEEDS:
            for kind, fit in (("cold", {}), ("pretrained", {"pretrain": pool})):
                start = time.perf_counter()
                gen = get_generator(name, progress="never", seed=seed, min_steps=min_steps)
                gen.fit(few.X, few.y, **fit)
                synthetic[f"{name}-{kind}-{seed}"] = gen.sample(counts, seed=1)
                runs[(name, kind, seed)] = {
                    "seed": seed, "fit_s": round(time.perf_counter() - start, 1),
                    "steps": steps(gen, len(few.y)), "epochs": gen.resolved_["epochs"],
                    "pretrain_epochs": gen.resolved_.get("pretrain_epochs", 0)}
                print(f"  lowdata/{name}/{kind} seed {seed}: {json.dumps(runs[(name, kind, seed)])}",
                      flush=True)
    scores = forest_macro_f1(few.X, few.y, synthetic, counts, (X_te, y_te), "lowdata")["macro_f1"]
    out["baselines"] = {k: scores[k] for k in scores if k in ("real_only", "smote", "classic")}
    for key, row in runs.items():
        row["macro_f1"] = scores["-".join(map(str, key))]
    for name in generators:
        out[name] = {kind: summarise([runs[(name, kind, s)] for s in FIT_SEEDS])
                     for kind in ("cold", "pretrained")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", nargs="+", default=["versions", "lowdata"],
                        choices=["versions", "lowdata"])
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "digits"],
                        choices=sorted(POLICY))
    parser.add_argument("--generators", nargs="+", default=["vae", "gan", "diffusion"])
    parser.add_argument("--lowdata-min-steps", type=int, default=4000,
                        help="min_steps of the low-data fits (1500: every family ties SMOTE)")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if "versions" in args.part:
        for dataset in args.datasets:  # what is not run keeps its earlier figures
            # families not run keep their earlier figures
            results.setdefault("versions", {}).setdefault(dataset, {}).update(
                run_versions(dataset, args.generators))
            RESULTS.write_text(json.dumps(results, indent=2))
    if "lowdata" in args.part:
        results["lowdata"] = run_lowdata(args.generators, args.lowdata_min_steps)
        RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
