"""Stage `evaluate`: real-only vs published augmented data, scored on the real test split.

    python -m pipelines.evaluate --dataset digits

Writes metrics/<ds>.json (a DVC metrics file): per training set and classifier, macro-F1
and balanced accuracy (mean and sd over seeds) and recall per class.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pandas as pd

from augment.config import from_dict
from augment.data.storage import read_split
from augment.downstream import compare
from augment.io import write_json
from augment.publish import load_augmented_folder
from pipelines.common import METRICS, PUBLISHED, prepared_split, stage_main


@dataclass(frozen=True)
class EvaluateParams:
    """Classifiers per modality and the seeds every figure is averaged over."""

    table_classifiers: list[str] = field(
        default_factory=lambda: ["hist_gradient_boosting", "random_forest"])
    image_classifiers: list[str] = field(default_factory=lambda: ["random_forest"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])


def evaluate(dataset: str, params: dict) -> str:
    ep = from_dict(EvaluateParams, params.get("evaluate"), where="evaluate")
    data = load_augmented_folder(PUBLISHED / dataset)
    test = read_split(prepared_split(dataset, "test"))
    real = ~data.synthetic
    pick = (lambda m: data.X[m].reset_index(drop=True)) if isinstance(data.X, pd.DataFrame) else (
        lambda m: data.X[m])
    sets = {"real_only": (pick(real), data.y[real]), "augmented": (data.X, data.y)}
    table = isinstance(data.X, pd.DataFrame)
    scores = compare(sets, (test.X, test.y), ep.table_classifiers if table else ep.image_classifiers,
                     ep.seeds)
    result = {"dataset": dataset, "generators": data.manifest["generators"],
              "rows": data.manifest["rows"], "scores": scores,
              "delta_macro_f1": {c: scores["augmented"][c]["macro_f1"]["mean"]
                                 - scores["real_only"][c]["macro_f1"]["mean"] for c in scores["augmented"]}}
    write_json(METRICS / f"{dataset}.json", result)
    deltas = ", ".join(f"{c} {d:+.4f}" for c, d in result["delta_macro_f1"].items())
    return f"evaluated {dataset}: macro-F1 change vs real-only: {deltas}"


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], evaluate, argv, with_generator=False)


if __name__ == "__main__":
    sys.exit(main())
