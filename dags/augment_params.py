"""Run parameters of the augment DAGs: params.yaml, then the profile, then the run's conf.

Plain Python (no Airflow, no torch) so the DAG file parses fast and tests can call it
directly. A run's merged parameters are written to the workspace's run-parameter file
(`Workspace.run_params`) and every task reads that file:
what a run did is on disk, and a retried task sees exactly what the first try saw.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# Used when the workspace has no readable params.yaml at parse time.
FALLBACK_DATASETS = ["digits", "breast_cancer"]
FALLBACK_GENERATORS = ["vae", "gan", "diffusion", "autoregressive", "translation"]

# Profile "tiny": a few seconds per generator, to check the plumbing, not the models.
# The keys every family has (BaseConfig) go to each generator of the run; family
# extras go only to that family. Tiny models rarely pass the real gate: smoke runs
# relax it through `overrides` (see SMOKE_GATE).
TINY_COMMON: dict[str, Any] = {"epochs": 2, "min_steps": 0, "batch_size": 32,
                                "progress": "never"}
TINY_FAMILY: dict[str, dict[str, Any]] = {"diffusion": {"num_timesteps": 50, "ddim_steps": 5}}
# The anomaly filter is off: its VAE would take longer than the tiny models and reject
# their rows (the memorisation filter still runs, so smoke runs go through the filters).
TINY_SECTIONS: dict[str, Any] = {"evaluate": {"seeds": [0], "image_classifiers": ["random_forest"]},
                                 "filter": {"anomaly": {"enabled": False}}}

# Gate thresholds a 2-epoch model can meet (`overrides: {"validate": SMOKE_GATE}`): for
# smoke runs of the wiring only. Schema, types, category and label sets and the exact
# class counts are still checked.
SMOKE_GATE: dict[str, Any] = {
    "max_exact_copy_share": 1.0,
    "max_duplicate_excess": 1.0,
    "max_detection_auc": 1.0,
    "min_dcr_ratio": 0.0,
    "utility_tolerance": 1.0,
    "suite": {"range_margin": 10.0, "range_mostly": 0.01, "kl_threshold": 1000.0},
}


# train.warm_start values; the DAGs' `warm_start` param (None: params.yaml's) sets it.
WARM_START = ("previous", "none")
WARM_START_ENV = "AUGMENT_WARM_START"


def warm_start_default(environ: dict[str, str] | None = None) -> str | None:
    """$AUGMENT_WARM_START (previous | none) for the scheduled DAG's `warm_start` param; None
    (follow params.yaml) when unset or empty. Another value is an error naming the variable."""
    value = (os.environ if environ is None else environ).get(WARM_START_ENV, "").strip()
    if not value:
        return None
    if value not in WARM_START:
        raise ValueError(f"${WARM_START_ENV} must be one of {', '.join(WARM_START)} (or empty: "
                         f"params.yaml's train.warm_start), got {value!r}")
    return value


def default_workspace() -> Path:
    """$AUGMENT_WORKSPACE, else the repository holding this dags/ folder."""
    return Path(os.environ.get("AUGMENT_WORKSPACE") or REPO_ROOT).resolve()


def workspace_defaults(workspace: Path) -> tuple[list[str], list[str]]:
    """(datasets, generators) named in the workspace's params.yaml, for DAG defaults."""
    try:
        params = yaml.safe_load((workspace / "params.yaml").read_text()) or {}
        datasets = [str(name) for name in params.get("datasets") or {}]
        generators = [str(g) for g in (params.get("pipeline") or {}).get("generators") or []]
    except (OSError, yaml.YAMLError, AttributeError):
        return FALLBACK_DATASETS, FALLBACK_GENERATORS
    return datasets or FALLBACK_DATASETS, generators or FALLBACK_GENERATORS


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """A copy of `base` with `overlay` merged in; nested mappings merge key by key."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def tiny_overlay(generators: list[str]) -> dict[str, Any]:
    """The "tiny" profile for these generator families."""
    train = {g: {**TINY_COMMON, **TINY_FAMILY.get(g, {})} for g in generators}
    return {"train": train, **copy.deepcopy(TINY_SECTIONS)}


def run_params(base: dict[str, Any], conf: dict[str, Any]) -> dict[str, Any]:
    """params.yaml (`base`) overlaid with a run's conf (the DAG params).

    Order: base, profile, the named fields (dataset, generators, policy, ratio, counts,
    seed, require_all, warm_start; None keeps the base value), then `overrides` (any
    section, merged last). `seed` drives training and sampling; the data split keeps
    `prepare.seed`. `warm_start` is `train.warm_start`.
    The sampling fields also go to `datasets.<dataset>.sample`, which params.yaml may use
    to override the global `sample` section for one dataset: the run's choice wins.
    """
    from augment.errors import ConfigError

    for key in ("overrides", "counts"):
        if conf.get(key) is not None and not isinstance(conf[key], dict):
            raise ConfigError(f"run parameter {key} must be a mapping, got {conf[key]!r}")
    if conf.get("generators") is not None and not isinstance(conf["generators"], list):
        raise ConfigError(f"run parameter generators must be a list, got {conf['generators']!r}")
    dataset = conf["dataset"]
    generators = list(conf.get("generators") or (base.get("pipeline") or {}).get("generators") or [])
    merged = deep_merge(base, tiny_overlay(generators) if conf.get("profile") == "tiny" else {})
    sample = {k: conf[k] for k in ("policy", "ratio", "counts") if conf.get(k) is not None}
    if conf.get("seed") is not None:
        sample["seed"] = conf["seed"]
    named: dict[str, Any] = {"pipeline": {"datasets": [dataset], "generators": generators}}
    train = {k: conf[k] for k in ("seed", "warm_start") if conf.get(k) is not None}
    if train:
        named["train"] = train
    if conf.get("require_all") is not None:
        named["publish"] = {"require_all": conf["require_all"]}
    if sample:
        named["sample"] = sample
        if isinstance((merged.get("datasets") or {}).get(dataset), dict):
            named["datasets"] = {dataset: {"sample": sample}}
        if "counts" in sample:  # a new mapping replaces the old one instead of merging into it
            for section in (merged.get("sample"), merged.get("datasets", {}).get(dataset, {}).get("sample")):
                if isinstance(section, dict):
                    section["counts"] = {}
    return deep_merge(deep_merge(merged, named), conf.get("overrides") or {})


def write_params(path: Path, params: dict[str, Any]) -> Path:
    """Write `params` as YAML, atomically (a retried task rewrites the same bytes)."""
    from augment.io import atomic_file

    with atomic_file(path) as tmp:
        tmp.write_text(yaml.safe_dump(params, sort_keys=False))
    return path
