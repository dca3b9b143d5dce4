"""Stage `publish`: real training rows + the passing generators' rows -> data/published/<ds>/.

    python -m pipelines.publish --dataset digits

Reads each generator's GateReport. Publishes nothing, and fails with the reasons and
Data Docs paths, when no generator passed (or, with publish.require_all, when any
failed). `publish.select: best` keeps the passing generator with the best validation
macro-F1 after augmentation; `all` keeps every passing one (`augment.validate.verdict.
select`, shared with the Airflow DAG). The manifest's `parents` names, per generator, the
published version its model was warm-started from (config.json lineage; null when it was
trained cold). Tagging a version and pushing it to the DVC remote is `augment publish DATASET`.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from augment.data.storage import read_split
from augment.errors import AugmentError
from augment.io import atomic_dir
from augment.publish import combine, git_revision, write_augmented
from augment.validate.verdict import GateReport, Selection, select
from augment.workspace import MODEL_CONFIG_FILE, Workspace
from pipelines.common import stage_main
from pipelines.params import (
    dataset_params,
    filter_params,
    generator_params,
    pipeline_params,
    publish_params,
    sample_params,
)


def gate_reports(ws: Workspace, dataset: str, generators: list[str]) -> dict[str, GateReport]:
    """{generator: its GateReport}; a missing report is an error naming the generator."""
    return {name: GateReport.load(ws.gate(dataset, name)) for name in generators}


def parent_version(ws: Workspace, dataset: str, generator: str) -> str | None:
    """The published version (`<ds>-vN`) the generator's model was warm-started from, as its
    config.json lineage records it; None for a cold start (or no model folder)."""
    path = ws.model(dataset, generator) / MODEL_CONFIG_FILE
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AugmentError(f"cannot read {path}: {err}; train {generator} again") from err
    lineage = config.get("lineage") if isinstance(config, dict) else None
    parent = (lineage or {}).get("init_from") or {}
    return parent.get("version") if isinstance(parent, dict) else None


def publish(ws: Workspace, dataset: str, params: dict) -> str:
    """Select among pipeline.generators by their GateReports, then publish the selection."""
    pipe, pp = pipeline_params(params), publish_params(params)
    reports = gate_reports(ws, dataset, pipe.generators)
    return publish_selection(ws, dataset, params, reports,
                             select(reports, pp.select, pp.require_all, dataset=dataset))


def publish_selection(ws: Workspace, dataset: str, params: dict, reports: dict[str, GateReport],
                      selection: Selection) -> str:
    """Real training rows + the chosen generators' rows, with a manifest recording every
    report and the reason of the choice, written atomically to the published folder."""
    pp = publish_params(params)
    train = read_split(ws.split(dataset, "train"))
    parts = {}
    for name in selection.chosen:
        syn = read_split(ws.samples(dataset, name), schema=train.schema)
        parts[name] = (syn.X, syn.y)
    data = combine(train.X, train.y, parts)
    info = json.loads(ws.dataset_info(dataset).read_text())
    manifest = {
        "dataset": dataset,
        "raw_fingerprint": info["fingerprint"],
        "source": info["source"],
        "git_revision": git_revision(ws.root),
        "generators": selection.chosen,
        "selection": selection.reason,
        "parents": {g: parent_version(ws, dataset, g) for g in reports},
        "rows": {"real": int((~data.synthetic).sum()), "synthetic": int(data.synthetic.sum())},
        "params": {
            "dataset": json.loads(json.dumps(dataset_params(params, dataset).__dict__, default=str)),
            "prepare": params.get("prepare"),
            "train": {g: generator_params(params, g) for g in reports},
            "sample": sample_params(params, dataset).__dict__,
            "filter": dataclasses.asdict(filter_params(params)),
            "validate": params.get("validate"),
            "publish": pp.__dict__,
        },
        "gate": {"passed": True, "generators": {g: r.to_dict() for g, r in reports.items()}},
    }
    out = ws.published(dataset)
    with atomic_dir(out, "published") as tmp:
        written = write_augmented(tmp, data, train.target or "label", manifest)
    return (f"published {dataset}: {manifest['rows']['real']} real + "
            f"{manifest['rows']['synthetic']} synthetic rows from "
            f"{', '.join(selection.chosen) or 'no generator (' + selection.reason + ')'} -> "
            f"{out} (content {written['content_hash'][:12]})")


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], publish, argv, with_generator=False)


if __name__ == "__main__":
    sys.exit(main())
