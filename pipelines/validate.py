"""Stage `validate`: run the validation gate on one generator's samples.

    python -m pipelines.validate --dataset digits --generator diffusion

Writes reports/<ds>/gates/<gen>/ (summary.json, metrics.json, validation.json, suite.json,
GX Data Docs). The stage succeeds whether the gate passes or fails: the outcome is
in summary.json and the publish stage acts on it, so one failing generator does not
stop the others.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from augment.config import from_dict
from augment.data.storage import read_split
from augment.errors import AugmentError
from augment.validate.gate import GateConfig, LabelledData, format_summary, run_gate
from pipelines.common import SYNTHETIC, gate_reports, prepared_split, stage_main


def gate_config(params: dict) -> GateConfig:
    return from_dict(GateConfig, params.get("validate"), where="validate")


def synthetic_file(dataset: str, generator: str) -> Path:
    folder = SYNTHETIC / dataset / generator
    for name in ("samples.parquet", "samples.npz"):
        if (folder / name).exists():
            return folder / name
    raise AugmentError(f"no samples under {folder}; run the sample stage first")


def validate(dataset: str, generator: str, params: dict) -> str:
    config = gate_config(params)
    train = read_split(prepared_split(dataset, "train"))
    val = read_split(prepared_split(dataset, "val"))
    syn = read_split(synthetic_file(dataset, generator))
    requested = json.loads((SYNTHETIC / dataset / generator / "requested.json").read_text())
    summary = run_gate(LabelledData(train.X, train.y), LabelledData(syn.X, syn.y),
                       LabelledData(val.X, val.y), requested, gate_reports(dataset) / generator,
                       config, schema=train.schema, target=train.target or "label")
    return f"{dataset}/{generator} " + format_summary(summary)


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], validate, argv)


if __name__ == "__main__":
    sys.exit(main())
