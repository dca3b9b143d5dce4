"""Does the validation gate stop the generators that make a classifier worse?

    python -m bench.gate_catch [--cases digits-imbalanced digits-lowdata breast_cancer]

Each case is a builtin dataset split 70/15/15 (train / val / test, stratified, seed 0)
and a scenario applied to the training split:

- digits-imbalanced: classes 5-9 thinned to 10%; `balance` policy.
- digits-lowdata: 20 training rows per class; `ratio` policy, 2 new rows per real row.
- breast_cancer: the table as it is; `balance` policy.
- breast_cancer-thinned: malignant training rows thinned to 25%; `balance` policy.

Where the scenario removed real training rows (all but breast_cancer), a control set of
those *real* rows, at the policy's class counts (as many as there are), is gated and
scored like a generator's: real rows the gate stops are false rejections by definition.

Every generator family is fitted twice, at its default budget and at 2 epochs (an
undertrained model that should be caught), sampled, and gated exactly as the pipeline's
validate stage does (real = train, holdout = val). Independently, a 300-tree
RandomForest is trained on real-only and on real + samples and scored on the test split
(macro-F1, mean of 3 seeds). A generator is *harmful* when augmentation lowers test
macro-F1 by more than the gate's `utility_tolerance` (`GateConfig.lowers_utility`, the
same rule as the evaluate stage); the gate *caught* it when the gate failed.
Writes bench/results/gate_catch.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from augment.data import load_dataset, stratified_split
from augment.data.split import per_class_index, thin_index
from augment.downstream import compare, macro_f1_change, training_sets
from augment.generators import get_generator
from augment.sampling import policy_counts
from augment.validate.gate import GateConfig, LabelledData, run_gate
from bench.common import machine

RESULTS = Path(__file__).parent / "results" / "gate_catch.json"
CASES = ("digits-imbalanced", "digits-lowdata", "breast_cancer", "breast_cancer-thinned")
CONTROL = "real rows"
BUDGETS = {"default": {}, "2 epochs": {"epochs": 2, "min_steps": 0}}


def case_splits(case: str):
    """(train, val, test) Datasets, the class-count policy (name, ratio) of a case and the
    real training rows its scenario removed (a Dataset; None when it removed none)."""
    source = case.split("-")[0]
    ds = load_dataset(f"builtin:{source}", target="target" if source == "breast_cancer" else None)
    train, val, test = stratified_split(ds, val=0.15, test=0.15, seed=0)
    if case == "digits-imbalanced":
        kept = thin_index(train, [5, 6, 7, 8, 9], 0.1, seed=0)
        policy = ("balance", 1.0)
    elif case == "digits-lowdata":
        kept = per_class_index(train, 20, seed=0)
        policy = ("ratio", 2.0)
    elif case == "breast_cancer-thinned":
        kept = thin_index(train, ["malignant"], 0.25, seed=0)
        policy = ("balance", 1.0)
    else:
        return train, val, test, ("balance", 1.0), None
    spare = np.setdiff1d(np.arange(len(train.y)), kept)
    return train.subset(kept, train.name), val, test, policy, train.subset(spare, train.name)


def control_rows(spare, counts: dict) -> tuple:
    """(X, y, counts) of real spare rows at `counts` per class, as many as there are."""
    rng = np.random.default_rng(0)
    picks = [rng.permutation(np.flatnonzero(spare.y == c))[:n] for c, n in counts.items() if n]
    index = np.sort(np.concatenate(picks))
    part = spare.subset(index)
    got = {c: int((part.y == c).sum()) for c in counts}
    return part.X, part.y, got


def run_case(case: str, generators: list[str], seeds: tuple[int, ...], params: dict
             ) -> list[dict]:
    train, val, test, (policy, ratio), spare = case_splits(case)
    counts = policy_counts(train.class_counts(), policy, ratio)
    real = LabelledData(train.X, train.y)
    rows = []
    runs = [(name, budget) for name in generators for budget in BUDGETS]
    runs += [(CONTROL, "-")] if spare is not None else []
    for name, budget in runs:
        if name == CONTROL:
            start = time.perf_counter()
            X_new, y_new, asked = control_rows(spare, counts)
            fit_s = 0.0
        else:
            extra = BUDGETS[budget]
            config = {**params.get(name, {}), **extra} if budget == "default" else extra
            start = time.perf_counter()
            gen = get_generator(name, progress="never", seed=0, **config)
            X_new, y_new = gen.fit(train.X, train.y, schema=train.schema).sample(counts, seed=1)
            fit_s = time.perf_counter() - start
            asked = counts
        with tempfile.TemporaryDirectory() as tmp:
            report = run_gate(real, LabelledData(X_new, y_new), LabelledData(val.X, val.y),
                               asked, Path(tmp) / "gate", GateConfig(), schema=train.schema,
                               target=train.target or "label")
        sets = training_sets(train.X, train.y, {name: (X_new, y_new)}, asked)
        sets = {k: v for k, v in sets.items() if k in ("real_only", name)}
        scores = compare(sets, (test.X, test.y), ["random_forest"], seeds)
        delta = macro_f1_change(scores)[name]["random_forest"]
        row = {"case": case, "generator": name, "budget": budget, "fit_s": round(fit_s, 1),
               "real_only": round(scores["real_only"]["random_forest"]["macro_f1"]["mean"], 4),
               "augmented": round(scores[name]["random_forest"]["macro_f1"]["mean"], 4),
               "delta": round(delta, 4), "gate_passed": report.passed,
               "val_delta": [report.metric("utility", k) for k in
                             ("augmented_delta_low", "augmented_delta", "augmented_delta_high")],
               "failures": report.failures}
        rows.append(row)
        verdict = "PASS" if row["gate_passed"] else "FAIL: " + "; ".join(report.failures)[:160]
        print(f"  {case:<18}{name:<10}{budget:<9} test macro-F1 {row['real_only']:.3f} -> "
              f"{row['augmented']:.3f} ({delta:+.3f})  gate {verdict}  fit {fit_s:.0f} s",
              flush=True)
    return rows


def tally(rows: list[dict]) -> dict:
    """Harmful runs (test macro-F1 lowered beyond `utility_tolerance`) the gate stopped
    (caught) and passed (misses); helpful ones it stopped (false rejections); and the real
    control sets it stopped."""
    controls = [r for r in rows if r["generator"] == CONTROL]
    rows = [r for r in rows if r["generator"] != CONTROL]
    harmful = [r for r in rows if GateConfig().lowers_utility(r["delta"])]
    helpful = [r for r in rows if not GateConfig().lowers_utility(r["delta"])]
    return {
        "real_controls": len(controls),
        "real_controls_stopped": sum(not r["gate_passed"] for r in controls),
        "runs": len(rows),
        "harmful": len(harmful),
        "harmful_stopped": sum(not r["gate_passed"] for r in harmful),
        "helpful": len(helpful),
        "helpful_stopped": sum(not r["gate_passed"] for r in helpful),
        "published_mean_delta": round(float(np.mean([r["delta"] for r in rows if r["gate_passed"]]))
                                      if any(r["gate_passed"] for r in rows) else 0.0, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--generators", nargs="+", default=["vae", "gan", "diffusion", "autoregressive"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--params", default="{}",
                        help='JSON per family for the default budget: {"vae": {"min_steps": 2000}}')
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    params = json.loads(args.params)
    started = time.perf_counter()
    rows: list[dict] = []
    for case in args.cases:  # the results so far are written after every case
        rows += run_case(case, args.generators, tuple(args.seeds), params)
        result = {"machine": machine(), "seconds": round(time.perf_counter() - started),
                  "gate": asdict(GateConfig()), "params": params, "tally": tally(rows), "runs": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    t = result["tally"]
    print(f"harmful runs stopped by the gate: {t['harmful_stopped']} of {t['harmful']}; "
          f"helpful runs stopped: {t['helpful_stopped']} of {t['helpful']}; real control sets "
          f"stopped: {t['real_controls_stopped']} of {t['real_controls']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
