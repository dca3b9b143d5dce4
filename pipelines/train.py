"""Stage `train`: fit one generator on one dataset's training split.

    python -m pipelines.train --dataset digits --generator diffusion

Writes models/<ds>/<gen>/ (config.json, weights.safetensors, curve.json) and the curve
for `dvc plots`. Checkpoints go to .checkpoints/<ds>/<gen>/, so a killed run (or an
Airflow retry) resumes.

With `train.warm_start: previous` the model starts from the same model of the dataset's
latest published version (tag `<ds>-vN`; the folder as that tag records it, read through
DVC) and trains the family's `warm_share` of the schedule; config.json's lineage names the
tag. No published version, a tag without that model, data in neither the cache nor the
remote, or an incompatible parent (other columns, network sizes...): a warning naming the
tag and why, and a cold start. With a prepared unlabelled split (`datasets.<ds>.unlabelled`)
the model pretrains on it first.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from augment.data import Dataset
from augment.data.storage import read_split, read_unlabelled
from augment.errors import AugmentError, ModelError, StaleCheckpointError
from augment.generators import get_generator, load_generator
from augment.io import write_json
from augment.publish import get_at_revision, latest_version
from augment.threads import configure_threads
from augment.workspace import Workspace, model_path
from pipelines.common import stage_main
from pipelines.params import generator_params, train_params

if TYPE_CHECKING:
    from augment.generators.base import Generator

log = logging.getLogger("augment.pipelines")


def train(ws: Workspace, dataset: str, generator: str, params: dict) -> str:
    configure_threads()
    hyper = generator_params(params, generator)
    get_generator(generator, **hyper)  # bad params fail before any work
    warm_start = train_params(params).warm_start
    out = ws.model(dataset, generator)
    split = read_split(ws.split(dataset, "train"))
    unlabelled = ws.unlabelled(dataset)
    pretrain = None if unlabelled is None else read_unlabelled(unlabelled)
    where = f"train {dataset}/{generator}"
    parent, tag = previous_model(ws, dataset, generator) if warm_start == "previous" else (None, None)
    checkpoints = ws.checkpoints(dataset, generator)
    start = time.perf_counter()
    try:
        model = fit(get_generator(generator, **hyper), split, checkpoints, pretrain, parent, tag)
    except ModelError as err:
        if parent is None or isinstance(err, StaleCheckpointError):
            raise
        log.warning("%s: cannot warm-start from %s: %s; training cold", where, tag, one_line(err))
        parent = tag = None
        model = fit(get_generator(generator, **hyper), split, checkpoints, pretrain, None, None)
    if tag is not None:
        model.lineage_["init_from"]["version"] = tag  # the tag the parent was read at
    model.save(out)
    write_json(ws.curve(dataset, generator), model.curve_)  # for `dvc plots show`
    shutil.rmtree(checkpoints, ignore_errors=True)
    how = [f"warm start from {tag}"] if tag else []
    if pretrain is not None:
        how.append(f"pretrained on {len(pretrain)} unlabelled rows")
    return (f"trained {generator} on {dataset} in {time.perf_counter() - start:.1f} s -> {out}"
            + (f" ({'; '.join(how)})" if how else ""))


def fit(model: Generator, split: Dataset, checkpoints: Path,
        pretrain: pd.DataFrame | np.ndarray | None, parent: Generator | None,
        tag: str | None) -> Generator:
    """`model` fitted on the training split (warm from `parent`, pretrained on `pretrain`
    when given), resuming from `checkpoints`; a stale checkpoint is dropped."""
    kwargs = {"checkpoint_dir": checkpoints, "schema": split.schema, "init_from": parent,
              "pretrain": pretrain}
    try:
        return model.fit(split.X, split.y, **kwargs)
    except StaleCheckpointError as err:  # left by a killed run with other params: ours to drop
        log.warning("%s; training from scratch%s", err, f" (warm from {tag})" if tag else "")
        shutil.rmtree(checkpoints)
        return model.fit(split.X, split.y, **kwargs)


def previous_model(ws: Workspace, dataset: str, generator: str
                   ) -> tuple[Generator | None, str | None]:
    """(the model `generator` of the latest published version of `dataset`, its tag), or
    (None, None) after a one-line warning saying why there is none to start from."""
    where, path = f"train {dataset}/{generator}", model_path(dataset, generator)
    if not (ws.root / ".dvc").is_dir():
        log.warning("%s: %s is not a git+DVC repository, so it has no published version to "
                    "warm-start from; training cold", where, ws.root)
        return None, None
    try:
        tag = latest_version(dataset, ws.root)
    except AugmentError as err:
        log.warning("%s: cannot list the published versions of %s (%s); training cold", where,
                    dataset, one_line(err))
        return None, None
    if tag is None:
        log.warning("%s: %s has no published version (no tag %s-vN) to warm-start from; "
                    "training cold", where, dataset, dataset)
        return None, None
    with tempfile.TemporaryDirectory(prefix="augment-parent-") as tmp:
        try:  # loaded into memory: the copy can go
            parent = load_generator(get_at_revision(path, Path(tmp) / "model", ws.root, tag))
        except AugmentError as err:
            log.warning("%s: cannot warm-start from %s: %s; training cold", where, tag,
                        one_line(err))
            return None, None
    log.info("%s: warm start from %s (%s as that tag records it)", where, tag, path)
    return parent, tag


def one_line(err: Exception) -> str:
    """An error's message on one line (git and DVC messages span several)."""
    return " ".join(str(err).split())


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], train, argv)


if __name__ == "__main__":
    sys.exit(main())
