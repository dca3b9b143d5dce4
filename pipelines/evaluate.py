"""Stage `evaluate`: downstream classifiers on the real test split, trained on
real-only rows, real + SMOTE, real + classic image transforms, and real + each
generator's samples (at the same class counts), over several seeds.

    python -m pipelines.evaluate --dataset digits

Writes metrics/<ds>.json (DVC metrics) and plots/downstream/<ds>.png. It also counts
how often a harmful generator (one that lowered test macro-F1 by more than the gate's
`utility_tolerance`) was stopped by the validation gate.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from augment.config import SEED, Range, from_dict
from augment.data.storage import read_split
from augment.downstream import compare, macro_f1_change, plot_scores, training_sets
from augment.io import write_json
from augment.threads import configure_threads
from augment.validate.verdict import GateReport
from augment.workspace import Workspace
from pipelines.common import stage_main
from pipelines.params import pipeline_params
from pipelines.sample import requested_counts
from pipelines.validate import gate_config


@dataclass(frozen=True)
class EvaluateParams:
    """Classifiers per modality and the seeds every figure is averaged over."""

    table_classifiers: list[str] = field(
        default_factory=lambda: ["hist_gradient_boosting", "random_forest"])
    image_classifiers: list[str] = field(default_factory=lambda: ["random_forest", "cnn"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])

    RANGES: ClassVar[dict[str, Range]] = {"seeds": SEED}


def generator_outputs(ws: Workspace, dataset: str, params: dict, schema=None
                      ) -> tuple[dict, dict[str, bool]]:
    """Each gated generator's new rows {name: (X, y)} and whether it passed its gate;
    `schema`: the training split's (tables)."""
    rows, gates = {}, {}
    for gen in pipeline_params(params).generators:
        if not ws.gate_file(dataset, gen).is_file():
            continue
        gates[gen] = GateReport.load(ws.gate(dataset, gen)).passed
        syn = read_split(ws.samples(dataset, gen), schema=schema)
        rows[gen] = (syn.X, syn.y)
    return rows, gates


def evaluate(ws: Workspace, dataset: str, params: dict) -> str:
    ep = from_dict(EvaluateParams, params.get("evaluate"), where="evaluate")
    configure_threads()  # the CNN's torch threads: this task's share of the cores
    gate = gate_config(params)
    test = read_split(ws.split(dataset, "test"))
    train = read_split(ws.split(dataset, "train"))
    synthetic, gates = generator_outputs(ws, dataset, params, train.schema)
    counts = requested_counts(dataset, params, train.class_counts())
    sets = training_sets(train.X, train.y, synthetic, counts, seed=0)
    classifiers = ep.image_classifiers if test.modality == "image" else ep.table_classifiers
    scores = compare(sets, (test.X, test.y), classifiers, ep.seeds)
    delta = macro_f1_change(scores)
    harmful = [g for g in gates if gate.lowers_utility(float(np.mean(list(delta[g].values()))))]
    caught = [g for g in harmful if not gates[g]]
    manifest_file = ws.manifest(dataset)
    published = json.loads(manifest_file.read_text())["generators"] if manifest_file.exists() else []
    result = {
        "dataset": dataset, "classifiers": classifiers, "seeds": ep.seeds,
        "test_rows": int(len(test.y)), "scores": scores, "delta_macro_f1": delta,
        "published": published, "gate_passed": gates,
        "gate_check": {"harmful_generators": harmful, "stopped_by_gate": caught,
                       "harm_threshold": -gate.utility_tolerance,
                       "summary": f"{len(caught)} of {len(harmful)} generators that lowered test "
                                  f"macro-F1 by more than {gate.utility_tolerance} were stopped by "
                                  "the gate"},
    }
    write_json(ws.downstream(dataset), result)
    plot_scores(scores, ws.downstream_plot(dataset), title=dataset)
    lines = [f"evaluated {dataset} (macro-F1 change vs real-only):"]
    lines += [f"  {name:<10} " + ", ".join(f"{c} {d:+.4f}" for c, d in changes.items())
              for name, changes in delta.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], evaluate, argv, with_generator=False)


if __name__ == "__main__":
    sys.exit(main())
