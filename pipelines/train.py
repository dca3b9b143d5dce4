"""Stage `train`: fit one generator on one dataset's training split.

    python -m pipelines.train --dataset digits --generator diffusion

Writes models/<ds>/<gen>/ (config.json, weights.safetensors, curve.json) and the curve
for `dvc plots`. Checkpoints go to .checkpoints/<ds>/<gen>/, so a killed run (or an
Airflow retry) resumes.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time

from augment.data.storage import read_split
from augment.errors import StaleCheckpointError
from augment.generators import get_generator
from augment.io import write_json
from augment.threads import configure_threads
from augment.workspace import Workspace
from pipelines.common import stage_main
from pipelines.params import generator_params

log = logging.getLogger("augment.pipelines")


def train(ws: Workspace, dataset: str, generator: str, params: dict) -> str:
    configure_threads()
    hyper = generator_params(params, generator)
    model = get_generator(generator, **hyper)  # bad params fail before any work
    out = ws.model(dataset, generator)
    split = read_split(ws.split(dataset, "train"))
    checkpoints = ws.checkpoints(dataset, generator)
    start = time.perf_counter()
    try:
        model.fit(split.X, split.y, checkpoint_dir=checkpoints, schema=split.schema)
    except StaleCheckpointError as err:  # left by a killed run with other params: ours to drop
        log.warning("%s; training from scratch", err)
        shutil.rmtree(checkpoints)
        model.fit(split.X, split.y, checkpoint_dir=checkpoints, schema=split.schema)
    model.save(out)
    write_json(ws.curve(dataset, generator), model.curve_)  # for `dvc plots show`
    shutil.rmtree(checkpoints, ignore_errors=True)
    return f"trained {generator} on {dataset} in {time.perf_counter() - start:.1f} s -> {out}"


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], train, argv)


if __name__ == "__main__":
    sys.exit(main())
