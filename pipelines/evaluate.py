"""Stage `evaluate`: downstream classifiers on the real test split, trained on
real-only rows, real + SMOTE, real + classic image transforms, and real + each
generator's samples (at the same class counts), over several seeds.

    python -m pipelines.evaluate --dataset digits

Writes metrics/<ds>.json (DVC metrics) and plots/downstream/<ds>.png. It also counts
how often a generator that lowered test macro-F1 was stopped by the validation gate.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from augment.baselines import classic_images, smote
from augment.config import from_dict
from augment.data.storage import read_split
from augment.downstream import compare
from augment.io import atomic_file, write_json
from augment.publish import combine
from pipelines.common import METRICS, PUBLISHED, gate_reports, prepared_split, stage_main
from pipelines.params import pipeline_params
from pipelines.sample import requested_counts
from pipelines.validate import synthetic_file

PLOTS = Path("plots/downstream")


@dataclass(frozen=True)
class EvaluateParams:
    """Classifiers per modality and the seeds every figure is averaged over."""

    table_classifiers: list[str] = field(
        default_factory=lambda: ["hist_gradient_boosting", "random_forest"])
    image_classifiers: list[str] = field(default_factory=lambda: ["random_forest", "cnn"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])


def training_sets(dataset: str, params: dict) -> tuple[dict, dict[str, bool]]:
    """{name: (X, y)} for every augmentation, and each generator's gate outcome."""
    train = read_split(prepared_split(dataset, "train"))
    counts = requested_counts(dataset, params, train.class_counts())
    sets = {"real_only": (train.X, train.y)}
    new_X, new_y = smote(train.X, train.y, counts, seed=0)
    sets["smote"] = _joined(train, new_X, new_y)
    if train.modality == "image":
        new_X, new_y = classic_images(train.X, train.y, counts, seed=0)
        sets["classic"] = _joined(train, new_X, new_y)
    gates = {}
    for gen in pipeline_params(params).generators:
        summary = gate_reports(dataset) / gen / "summary.json"
        if not summary.exists():
            continue
        gates[gen] = bool(json.loads(summary.read_text())["passed"])
        syn = read_split(synthetic_file(dataset, gen))
        sets[gen] = _joined(train, syn.X, syn.y)
    return sets, gates


def _joined(train, X_new, y_new) -> tuple:
    data = combine(train.X, train.y, {"new": (X_new, y_new)})
    return data.X, data.y


def evaluate(dataset: str, params: dict) -> str:
    ep = from_dict(EvaluateParams, params.get("evaluate"), where="evaluate")
    test = read_split(prepared_split(dataset, "test"))
    sets, gates = training_sets(dataset, params)
    classifiers = ep.image_classifiers if test.modality == "image" else ep.table_classifiers
    scores = compare(sets, (test.X, test.y), classifiers, ep.seeds)
    base = {c: scores["real_only"][c]["macro_f1"]["mean"] for c in classifiers}
    delta = {name: {c: scores[name][c]["macro_f1"]["mean"] - base[c] for c in classifiers}
             for name in scores if name != "real_only"}
    harmful = [g for g in gates if np.mean(list(delta[g].values())) < 0]
    caught = [g for g in harmful if not gates[g]]
    manifest_file = PUBLISHED / dataset / "manifest.json"
    published = json.loads(manifest_file.read_text())["generators"] if manifest_file.exists() else []
    result = {
        "dataset": dataset, "classifiers": classifiers, "seeds": ep.seeds,
        "test_rows": int(len(test.y)), "scores": scores, "delta_macro_f1": delta,
        "published": published, "gate_passed": gates,
        "gate_check": {"harmful_generators": harmful, "stopped_by_gate": caught,
                       "summary": f"{len(caught)} of {len(harmful)} generators that lowered test "
                                  "macro-F1 were stopped by the gate"},
    }
    write_json(METRICS / f"{dataset}.json", result)
    plot_scores(scores, classifiers, PLOTS / f"{dataset}.png", title=dataset)
    lines = [f"evaluated {dataset} (macro-F1 change vs real-only):"]
    lines += [f"  {name:<10} " + ", ".join(f"{c} {d:+.4f}" for c, d in changes.items())
              for name, changes in delta.items()]
    return "\n".join(lines)


def plot_scores(scores: dict, classifiers: list[str], path: Path, title: str) -> None:
    """Grouped bars: macro-F1 mean +- sd per training set and classifier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(scores)
    width = 0.8 / len(classifiers)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 3.6))
    for i, clf in enumerate(classifiers):
        means = [scores[n][clf]["macro_f1"]["mean"] for n in names]
        sds = [scores[n][clf]["macro_f1"]["sd"] for n in names]
        ax.bar(np.arange(len(names)) + i * width, means, width, yerr=sds, capsize=3, label=clf)
    lows = [scores[n][c]["macro_f1"]["mean"] for n in names for c in classifiers]
    ax.set_ylim(max(0.0, min(lows) - 0.1), 1.0)
    ax.set_xticks(np.arange(len(names)) + width * (len(classifiers) - 1) / 2, names)
    ax.set_ylabel("test macro-F1")
    ax.set_title(f"{title}: downstream macro-F1 by training set")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], evaluate, argv, with_generator=False)


if __name__ == "__main__":
    sys.exit(main())


