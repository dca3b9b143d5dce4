"""The workspace: the one owner of every artifact path and file name.

A workspace is a folder holding `params.yaml`; every stage (DVC and Airflow alike), the
CLI and the report ask a `Workspace` where things live instead of joining paths
themselves:

    data/prepared/<ds>/{train,val,test}.{parquet,npz}, schema.json, info.json
    data/prepared/<ds>/unlabelled.{parquet,npz}   optional: rows without labels, to pretrain on
    models/<ds>/<gen>/                  weights, config.json, curve.json
    .checkpoints/<ds>/<gen>/            resumable training state (outside DVC outs)
    .cache/<kind>/<key>.npy             content-keyed results stages reuse, e.g. the gate's
                                        real-only refits (augment/cache.py; outside DVC)
    plots/curves/<ds>/<gen>.json        training curve for `dvc plots`
    data/synthetic/<ds>/<gen>/          samples.{parquet,npz}, requested.json,
                                        filters.json, dropped.{parquet,npz} (with filters on)
    reports/<ds>/gates/<gen>/           the GateReport (gate.json) + GX suite and Data Docs
    metrics/gates/<ds>/<gen>.json       the gate's figures as DVC metrics
    data/published/<ds>/                augmented.{parquet,npz}, manifest.json
    metrics/<ds>.json                   downstream scores (DVC metrics)
    plots/downstream/<ds>.png           downstream bar chart
    reports/<ds>/index.html, figures/   the HTML report
    .airflow/runs/<ds>/<run>.yaml       an Airflow run's merged parameters
    .airflow/shards/<ds>/<gen>/<run>/<start>-<stop>.{parquet,npz}
                                        an Airflow run's sample shards (sample.shards)

Dataset and generator names are checked once, here, before any path is built: a name
is a safe identifier (letters, digits, `_`, `-`, `.`; no `..`, no `/`, not absolute,
not empty), so no name can reach outside the workspace.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from augment.errors import AugmentError, ConfigError

PARAMS_FILE = "params.yaml"

# Folders, relative to the workspace root (posix form: also used inside git/DVC revisions).
PREPARED_DIR = PurePosixPath("data/prepared")
MODELS_DIR = PurePosixPath("models")
CHECKPOINTS_DIR = PurePosixPath(".checkpoints")  # outside DVC outs: `dvc repro` deletes outs
CACHE_DIR = PurePosixPath(".cache")  # content-keyed results a stage may reuse (augment/cache.py)
CURVES_DIR = PurePosixPath("plots/curves")
SYNTHETIC_DIR = PurePosixPath("data/synthetic")
REPORTS_DIR = PurePosixPath("reports")
PUBLISHED_DIR = PurePosixPath("data/published")
METRICS_DIR = PurePosixPath("metrics")
DOWNSTREAM_PLOTS_DIR = PurePosixPath("plots/downstream")
RUNS_DIR = PurePosixPath(".airflow/runs")
SHARDS_DIR = PurePosixPath(".airflow/shards")  # an Airflow run's sample shards (row ranges)

# File names inside those folders.
SPLITS = ("train", "val", "test")
UNLABELLED = "unlabelled"  # the optional fourth split: features only (datasets.<ds>.unlabelled)
SPLIT_SUFFIXES = (".parquet", ".npz")
INFO_FILE = "info.json"
SCHEMA_FILE = "schema.json"
SAMPLES_TABLE, SAMPLES_IMAGES = "samples.parquet", "samples.npz"
REQUESTED_FILE = "requested.json"
FILTERS_FILE = "filters.json"  # what the per-row filters dropped (beside the samples)
SELECTION_FILE = "selection.json"  # sample.policy auto: every amount's figures and the choice
DROPPED_TABLE, DROPPED_IMAGES = "dropped.parquet", "dropped.npz"  # the worst dropped rows
GATE_FILE = "gate.json"  # the GateReport
SUITE_FILE, VALIDATION_FILE = "suite.json", "validation.json"
GX_DIR = "gx"
MANIFEST_FILE = "manifest.json"
AUGMENTED_TABLE, AUGMENTED_IMAGES = "augmented.parquet", "augmented.npz"
REPORT_PAGE, REPORT_FIGURES = "index.html", "figures"
MODEL_CONFIG_FILE, CURVE_FILE = "config.json", "curve.json"  # inside a model folder
WEIGHTS_FILE = "weights.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"  # inside a checkpoint folder

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def check_name(name: object, what: str = "name") -> str:
    """`name` if it is a safe identifier for a path component, else a ConfigError."""
    if not isinstance(name, str):
        raise ConfigError(f"{what} must be a string, got {name!r}")
    if not _NAME.fullmatch(name) or ".." in name:
        raise ConfigError(f"{what} {name!r} is not allowed: use letters, digits, '_', '-' and "
                          "'.' (starting with a letter or digit; no '..', '/' or absolute paths)")
    return name


def safe_run_id(run_id: str) -> str:
    """An Airflow run id (holds ':' and '+') made into a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("_.") or "run"


class Workspace:
    """Paths of every artifact under `root` (default: the current folder)."""

    def __init__(self, root: str | Path = ".") -> None:
        self.root = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def _at(self, folder: PurePosixPath, *names: str) -> Path:
        return self.root.joinpath(*folder.parts, *names)

    @property
    def params_file(self) -> Path:
        return self.root / PARAMS_FILE

    # ---- prepare ------------------------------------------------------------------
    def prepared(self, dataset: str) -> Path:
        return self._at(PREPARED_DIR, check_name(dataset, "dataset"))

    def split(self, dataset: str, split: str) -> Path:
        """The prepared `split` file (train, val, test or unlabelled) of `dataset`,
        whichever format."""
        found = self._split_file(dataset, split)
        if found is None:
            hint = (f"set datasets.{dataset}.unlabelled and run the prepare stage"
                    if split == UNLABELLED else "run the prepare stage first")
            raise AugmentError(f"no prepared {split} split for {dataset!r} under "
                               f"{self.prepared(dataset)}; {hint}")
        return found

    def unlabelled(self, dataset: str) -> Path | None:
        """The prepared unlabelled split of `dataset`, or None when it has none."""
        return self._split_file(dataset, UNLABELLED)

    def _split_file(self, dataset: str, split: str) -> Path | None:
        if split not in (*SPLITS, UNLABELLED):
            raise ConfigError(f"split must be one of {[*SPLITS, UNLABELLED]}, got {split!r}")
        folder = self.prepared(dataset)
        for suffix in SPLIT_SUFFIXES:
            if (folder / f"{split}{suffix}").exists():
                return folder / f"{split}{suffix}"
        return None

    def dataset_info(self, dataset: str) -> Path:
        return self.prepared(dataset) / INFO_FILE

    # ---- train --------------------------------------------------------------------
    def model(self, dataset: str, generator: str) -> Path:
        return self._at(MODELS_DIR, check_name(dataset, "dataset"), check_name(generator, "generator"))

    def models(self, dataset: str) -> Path:
        return self._at(MODELS_DIR, check_name(dataset, "dataset"))

    def checkpoints(self, dataset: str, generator: str) -> Path:
        return self._at(CHECKPOINTS_DIR, check_name(dataset, "dataset"),
                        check_name(generator, "generator"))

    def cache(self, kind: str) -> Path:
        """Folder of the content-keyed `kind` results (augment/cache.py); safe to delete."""
        return self._at(CACHE_DIR, check_name(kind, "cache kind"))

    def curve(self, dataset: str, generator: str) -> Path:
        return self._at(CURVES_DIR, check_name(dataset, "dataset"),
                        f"{check_name(generator, 'generator')}.json")

    # ---- sample -------------------------------------------------------------------
    def synthetic(self, dataset: str, generator: str | None = None) -> Path:
        """data/synthetic/<ds>/ or, with `generator`, that generator's sample folder."""
        folder = self._at(SYNTHETIC_DIR, check_name(dataset, "dataset"))
        return folder if generator is None else folder / check_name(generator, "generator")

    def samples(self, dataset: str, generator: str) -> Path:
        """The existing samples file of one generator."""
        folder = self.synthetic(dataset, generator)
        for name in (SAMPLES_TABLE, SAMPLES_IMAGES):
            if (folder / name).exists():
                return folder / name
        raise AugmentError(f"no samples under {folder}; run the sample stage first")

    def requested(self, dataset: str, generator: str) -> Path:
        return self.synthetic(dataset, generator) / REQUESTED_FILE

    def filters(self, dataset: str, generator: str) -> Path:
        """filters.json of one generator's samples (absent when the filters are off)."""
        return self.synthetic(dataset, generator) / FILTERS_FILE

    def selection(self, dataset: str, generator: str) -> Path:
        """selection.json of one generator's samples (only under sample.policy auto)."""
        return self.synthetic(dataset, generator) / SELECTION_FILE

    def dropped(self, dataset: str, generator: str) -> Path | None:
        """The existing file of the worst dropped rows of one generator, or None."""
        folder = self.synthetic(dataset, generator)
        for name in (DROPPED_TABLE, DROPPED_IMAGES):
            if (folder / name).exists():
                return folder / name
        return None

    # ---- validate -----------------------------------------------------------------
    def gates(self, dataset: str) -> Path:
        return self._at(REPORTS_DIR, check_name(dataset, "dataset"), "gates")

    def gate(self, dataset: str, generator: str) -> Path:
        return self.gates(dataset) / check_name(generator, "generator")

    def gate_file(self, dataset: str, generator: str) -> Path:
        """The GateReport file; it exists once the validate stage has run."""
        return self.gate(dataset, generator) / GATE_FILE

    def gate_metrics(self, dataset: str, generator: str) -> Path:
        return self._at(METRICS_DIR, "gates", check_name(dataset, "dataset"),
                        f"{check_name(generator, 'generator')}.json")

    # ---- publish, evaluate, report --------------------------------------------------
    def published(self, dataset: str) -> Path:
        return self._at(PUBLISHED_DIR, check_name(dataset, "dataset"))

    def manifest(self, dataset: str) -> Path:
        return self.published(dataset) / MANIFEST_FILE

    def downstream(self, dataset: str) -> Path:
        return self._at(METRICS_DIR, f"{check_name(dataset, 'dataset')}.json")

    def downstream_plot(self, dataset: str) -> Path:
        return self._at(DOWNSTREAM_PLOTS_DIR, f"{check_name(dataset, 'dataset')}.png")

    def report_dir(self, dataset: str) -> Path:
        return self._at(REPORTS_DIR, check_name(dataset, "dataset"))

    def report_page(self, dataset: str) -> Path:
        return self.report_dir(dataset) / REPORT_PAGE

    def report_figures(self, dataset: str) -> Path:
        return self.report_dir(dataset) / REPORT_FIGURES

    # ---- orchestration ----------------------------------------------------------------
    def run_params(self, dataset: str, run_id: str) -> Path:
        return self._at(RUNS_DIR, check_name(dataset, "dataset"), f"{safe_run_id(run_id)}.yaml")

    def shard(self, dataset: str, generator: str, run_id: str, rows: tuple[int, int]) -> Path:
        """The stem (no suffix) of the shard file of rows [start, stop) of a run's draw."""
        start, stop = (int(r) for r in rows)
        return self._at(SHARDS_DIR, check_name(dataset, "dataset"), check_name(generator, "generator"),
                        safe_run_id(run_id), f"{start}-{stop}")


def model_path(dataset: str, generator: str) -> str:
    """Repository-relative posix path of a model folder, for DVC at a revision."""
    return str(MODELS_DIR / check_name(dataset, "dataset") / check_name(generator, "generator"))


def published_path(dataset: str, name: str = MANIFEST_FILE) -> str:
    """Repository-relative posix path of a published file, for `dvc.api` at a revision."""
    return str(PUBLISHED_DIR / check_name(dataset, "dataset") / name)
