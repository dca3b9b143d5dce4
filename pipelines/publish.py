"""Stage `publish`: real training rows + the passing generators' rows -> data/published/<ds>/.

    python -m pipelines.publish --dataset digits

Reads each generator's gate summary. Publishes nothing, and fails with the reasons
and Data Docs paths, when no generator passed (or, with publish.require_all, when any
failed). `publish.select: best` keeps the passing generator with the best validation
macro-F1 after augmentation; `all` keeps every passing one. Tagging a version and
pushing it to the DVC remote is `augment publish DATASET`.
"""

from __future__ import annotations

import json
import sys

from augment.data.storage import read_split
from augment.errors import AugmentError
from augment.io import atomic_dir
from augment.publish import combine, git_revision, write_augmented
from pipelines.common import PREPARED, PUBLISHED, gate_reports, prepared_split, stage_main
from pipelines.params import (
    dataset_params,
    generator_params,
    pipeline_params,
    publish_params,
    sample_params,
)
from pipelines.validate import synthetic_file


def gate_outcomes(dataset: str, generators: list[str]) -> dict[str, dict]:
    outcomes = {}
    for name in generators:
        folder = gate_reports(dataset) / name
        if not (folder / "summary.json").is_file():
            raise AugmentError(f"no validation report for {dataset}/{name}; run the validate stage")
        outcomes[name] = {"summary": json.loads((folder / "summary.json").read_text()),
                          "metrics": json.loads((folder / "metrics.json").read_text())}
    return outcomes


def select(outcomes: dict[str, dict], rule: str, require_all: bool) -> tuple[list[str], str]:
    """The generators to publish and why."""
    passing = [g for g, o in outcomes.items() if o["summary"]["passed"]]
    failed = {g: o["summary"] for g, o in outcomes.items() if not o["summary"]["passed"]}
    if not passing or (require_all and failed):
        lines = [f"{g}: " + "; ".join(s["failures"]) + f" (Data Docs: {s['data_docs']})"
                 for g, s in failed.items()]
        why = "no generator passed" if not passing else "publish.require_all is set"
        raise AugmentError(f"nothing published ({why}):\n  " + "\n  ".join(lines))
    if rule == "all":
        return passing, "every generator that passed its gate"
    scores = {g: outcomes[g]["metrics"]["utility"]["augmented_macro_f1"] for g in passing}
    best = max(passing, key=lambda g: (scores[g], g))
    detail = ", ".join(f"{g} {s:.4f}" for g, s in sorted(scores.items()))
    return [best], f"best validation macro-F1 after augmentation among passing generators ({detail})"


def publish(dataset: str, params: dict) -> str:
    pipe, pp = pipeline_params(params), publish_params(params)
    outcomes = gate_outcomes(dataset, pipe.generators)
    chosen, reason = select(outcomes, pp.select, pp.require_all)
    train = read_split(prepared_split(dataset, "train"))
    parts = {}
    for name in chosen:
        syn = read_split(synthetic_file(dataset, name))
        parts[name] = (syn.X, syn.y)
    data = combine(train.X, train.y, parts)
    info = json.loads((PREPARED / dataset / "info.json").read_text())
    manifest = {
        "dataset": dataset,
        "raw_fingerprint": info["fingerprint"],
        "source": info["source"],
        "git_revision": git_revision(),
        "generators": chosen,
        "selection": reason,
        "rows": {"real": int((~data.synthetic).sum()), "synthetic": int(data.synthetic.sum())},
        "params": {
            "dataset": json.loads(json.dumps(dataset_params(params, dataset).__dict__, default=str)),
            "prepare": params.get("prepare"),
            "train": {g: generator_params(params, g) for g in pipe.generators},
            "sample": sample_params(params, dataset).__dict__,
            "validate": params.get("validate"),
            "publish": pp.__dict__,
        },
        "gate": {"passed": True, "generators": {g: o["summary"] for g, o in outcomes.items()}},
        "metrics": {g: o["metrics"] for g, o in outcomes.items()},
    }
    out = PUBLISHED / dataset
    with atomic_dir(out) as tmp:
        written = write_augmented(tmp, data, train.target or "label", manifest)
    return (f"published {dataset}: {manifest['rows']['real']} real + "
            f"{manifest['rows']['synthetic']} synthetic rows from {', '.join(chosen)} -> {out} "
            f"(content {written['content_hash'][:12]})")


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], publish, argv, with_generator=False)


if __name__ == "__main__":
    sys.exit(main())
