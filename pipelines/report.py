"""Stage `report`: one dataset's visual HTML report from every stage's artifacts.

    python -m pipelines.report --dataset digits

Writes reports/<ds>/index.html and reports/<ds>/figures/ (the per-generator gate folders
reports/<ds>/gates/<gen>/ belong to the validate stage and are left alone). Artifacts of
stages that have not run are named on the page; the report never fails for them.
"""

from __future__ import annotations

import sys

from augment.report import ReportSources, build_report
from pipelines.common import (
    METRICS,
    MODELS,
    PREPARED,
    PUBLISHED,
    REPORTS,
    SYNTHETIC,
    gate_reports,
    stage_main,
)
from pipelines.evaluate import PLOTS as DOWNSTREAM_PLOTS
from pipelines.params import pipeline_params
from pipelines.validate import gate_config


def sources(dataset: str, params: dict) -> ReportSources:
    return ReportSources(
        dataset=dataset,
        generators=pipeline_params(params).generators,
        prepared=PREPARED / dataset,
        models=MODELS / dataset,
        synthetic=SYNTHETIC / dataset,
        reports=gate_reports(dataset),
        out=REPORTS / dataset,
        published=PUBLISHED / dataset,
        downstream=METRICS / f"{dataset}.json",
        downstream_plot=DOWNSTREAM_PLOTS / f"{dataset}.png",
        gate=gate_config(params),
    )


def report(dataset: str, params: dict) -> str:
    return f"report for {dataset} -> {build_report(sources(dataset, params))}"


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], report, argv, with_generator=False)


if __name__ == "__main__":
    sys.exit(main())
