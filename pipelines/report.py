"""Stage `report`: one dataset's visual HTML report from every stage's artifacts.

    python -m pipelines.report --dataset digits

Writes reports/<ds>/index.html and reports/<ds>/figures/ (the per-generator gate folders
reports/<ds>/gates/<gen>/ belong to the validate stage and are left alone). Artifacts of
stages that have not run are named on the page; the report never fails for them.
"""

from __future__ import annotations

import sys

from augment.report import build_report
from augment.workspace import Workspace
from pipelines.common import stage_main
from pipelines.params import pipeline_params


def report(ws: Workspace, dataset: str, params: dict) -> str:
    """Build the report of `dataset` over the pipeline's generators; returns a log line."""
    page = build_report(ws, dataset, pipeline_params(params).generators)
    return f"report for {dataset} -> {page}"


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], report, argv, with_generator=False)


if __name__ == "__main__":
    sys.exit(main())
