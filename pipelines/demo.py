"""`make demo`: the whole pipeline on the builtin data through `dvc repro`, then a summary.

    python -m pipelines.demo [--no-publish]

Configures a local-directory DVC remote (.dvc-remote/, in .dvc/config.local) when no
remote is set, runs `dvc repro`, tags every dataset whose gate passed as a new version
(`augment publish`), and prints per generator: gate outcome, key metrics and the
downstream change vs real-only training.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from augment.errors import AugmentError
from augment.validate.verdict import GateReport
from augment.workspace import Workspace
from pipelines.params import load_params, pipeline_params


def sh(*cmd: str, capture: bool = False) -> subprocess.CompletedProcess:
    """Run a command with this venv's tools (dvc, python) first on PATH."""
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                        "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(cmd, env=env, text=True, capture_output=capture)


def ensure_remote() -> None:
    if not sh("dvc", "remote", "list", capture=True).stdout.strip():
        sh("dvc", "remote", "add", "--local", "-d", "demo", ".dvc-remote")


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_rows(ws: Workspace, params: dict) -> list[str]:
    pipe = pipeline_params(params)
    lines = [f"{'dataset':<14}{'generator':<16}{'gate':<6}{'detect AUC':>11}{'copies':>8}"
             f"{'TSTR F1':>9}{'val F1 real':>12}{'val F1 aug':>11}  published / test-set change"]
    for dataset in pipe.datasets:
        manifest_file = ws.manifest(dataset)
        chosen = json.loads(manifest_file.read_text())["generators"] if manifest_file.exists() else []
        test = json.loads(ws.downstream(dataset).read_text()) if chosen else {}
        for gen in pipe.generators:
            if not ws.gate_file(dataset, gen).is_file():
                lines.append(f"{dataset:<14}{gen:<16}(not run)")
                continue
            gate = GateReport.load(ws.gate(dataset, gen))
            note = ""
            if gen in chosen:
                deltas = ", ".join(f"{c} {d:+.3f}" for c, d in test["delta_macro_f1"][gen].items())
                note = f"yes / macro-F1 {deltas}"
            auc, copies = gate.metric("detection_auc"), gate.metric("privacy", "exact_copy_share")
            lines.append(
                f"{dataset:<14}{gen:<16}{'pass' if gate.passed else 'FAIL':<6}"
                f"{_figure(auc):>11}{'n/a' if copies is None else f'{copies:.1%}':>8}"
                f"{_figure(gate.metric('utility', 'tstr_macro_f1')):>9}"
                f"{_figure(gate.metric('utility', 'real_macro_f1')):>12}"
                f"{_figure(gate.metric('utility', 'augmented_macro_f1')):>11}  {note}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-publish", action="store_true", help="skip tagging versions")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        ws = Workspace(".")
        params = load_params(ws.params_file)
        ensure_remote()
        repro = sh("dvc", "repro", "--keep-going")  # one dataset's failed gate stops no other
        tags = []
        if not args.no_publish:
            from augment.publish import publish_version

            for dataset in pipeline_params(params).datasets:
                if not ws.manifest(dataset).exists():
                    continue
                try:
                    tags.append(publish_version(dataset))
                except AugmentError as err:  # e.g. its publish stage failed this time
                    print(f"demo: {dataset} not tagged: {err}", file=sys.stderr)
        print("\n" + "\n".join(summary_rows(ws, params)))
    except AugmentError as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 2
    datasets = pipeline_params(params).datasets
    rel = lambda path: str(path.relative_to(ws.root))  # noqa: E731
    print(f"\nversions: {', '.join(tags) or 'none'}")
    print("reports: " + ", ".join(rel(ws.report_page(d)) for d in datasets))
    print("published: " + ", ".join(rel(ws.published(d)) for d in datasets)
          + "   gates: " + ", ".join(rel(ws.gates(d)) for d in datasets))
    print(f"demo finished in {time.perf_counter() - start:.0f} s"
          + ("" if repro.returncode == 0 else " (dvc repro reported a failure above)"))
    return 0 if repro.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
