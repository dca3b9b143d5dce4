"""Stage `validate`: run the validation gate on one generator's samples.

    python -m pipelines.validate --dataset digits --generator diffusion

Writes reports/<ds>/gates/<gen>/ (gate.json: the GateReport; validation.json,
suite.json, GX Data Docs) and metrics/gates/<ds>/<gen>.json (the gate's figures, for
`dvc metrics show`). The stage succeeds whether the gate passes or fails: the verdict is
in gate.json and the publish stage acts on it, so one failing generator does not stop
the others.
"""

from __future__ import annotations

import sys

from augment.config import from_dict
from augment.data.storage import read_split
from augment.io import read_json, write_json
from augment.sampling import read_counts_file
from augment.validate.gate import GateConfig, LabelledData, run_gate
from augment.validate.verdict import GateReport
from augment.workspace import Workspace
from pipelines.common import stage_main


def gate_config(params: dict) -> GateConfig:
    return from_dict(GateConfig, params.get("validate"), where="validate")


def validate(ws: Workspace, dataset: str, generator: str, params: dict) -> str:
    report = run_validation(ws, dataset, generator, params)
    return report.summary(f"{dataset}/{generator}")


def run_validation(ws: Workspace, dataset: str, generator: str, params: dict) -> GateReport:
    """The gate on one generator's samples: against the training split, the validation
    split as the real held-out rows."""
    config = gate_config(params)
    train = read_split(ws.split(dataset, "train"))
    val = read_split(ws.split(dataset, "val"))
    path = ws.filters(dataset, generator)
    filters = (read_json(path, "filter summary", "run the sample stage again") if path.is_file()
               else None)
    if filters and filters.get("short") and not sum(filters.get("kept", {}).values()):
        syn = LabelledData(train.X[:0], train.y[:0])  # the filters dropped every row: the gate fails it
    else:
        samples = read_split(ws.samples(dataset, generator), schema=train.schema)
        syn = LabelledData(samples.X, samples.y)
    requested = read_counts_file(ws.requested(dataset, generator))
    chosen = ws.selection(dataset, generator)  # sample.policy auto's choice
    selection = (read_json(chosen, "auto policy selection", "run the sample stage again")
                 if chosen.is_file() else None)
    report = run_gate(LabelledData(train.X, train.y), syn,
                      LabelledData(val.X, val.y), requested, ws.gate(dataset, generator),
                      config, schema=train.schema, target=train.target or "label",
                      holdout_source="validation split", filters=filters,
                      selection=selection, cache=ws.cache("utility"))
    write_json(ws.gate_metrics(dataset, generator), report.figures())
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], validate, argv)


if __name__ == "__main__":
    sys.exit(main())
