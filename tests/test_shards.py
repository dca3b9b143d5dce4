"""Sharded sampling (`sample.shards`): the DAG's plan -> draw x N -> sample gives, byte for
byte, the rows of the one-piece stage, for tables and images, filters on."""

from __future__ import annotations

import pytest
import yaml
from conftest import tiny_pipeline

from augment.errors import ConfigError
from augment.workspace import Workspace
from pipelines.prepare import prepare
from pipelines.sample import draw, finish, gather, plan, sample, shard_ranges
from pipelines.train import train

DATASETS = {"bc": {"source": "builtin:breast_cancer", "target": "target"},
            "digits": {"source": "builtin:digits", "target": "target"}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workspace with a 2-epoch vae per dataset; ratio 8 asks for several sample blocks."""
    root = tmp_path_factory.mktemp("shards")
    params = tiny_pipeline(DATASETS, ["vae"])
    params["sample"] |= {"ratio": 8.0}
    params["filter"]["memorisation"]["enabled"] = True  # refills start from the gathered draw
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    ws = Workspace(root)
    for name in DATASETS:
        prepare(ws, name, params)
        train(ws, name, "vae", params)
    return ws, params


def test_shard_ranges_are_block_aligned_and_cover_every_row():
    assert shard_ranges(100, 4) == [(0, 100)]  # one block: one shard, whatever is asked
    assert shard_ranges(3000, 2) == [(0, 2048), (2048, 3000)]
    assert shard_ranges(3000, 8) == [(0, 1024), (1024, 2048), (2048, 3000)]
    assert shard_ranges(0, 3) == [(0, 0)]


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_shards_give_the_bytes_of_one_piece(trained, dataset):
    ws, params = trained
    sample(ws, dataset, "vae", params)  # the DVC stage: one machine, one piece
    folder = ws.synthetic(dataset, "vae")
    whole = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert "filters.json" in whole

    sharded = yaml.safe_load(yaml.safe_dump(params)) | {}
    sharded["sample"] = params["sample"] | {"shards": 3}
    planned = plan(ws, dataset, "vae", sharded)
    assert len(planned["shards"]) == 3 and all(start % 1024 == 0 for start, _ in planned["shards"])
    parts = [draw(ws, dataset, "vae", sharded, planned["counts"], rows,
                  ws.shard(dataset, "vae", "run-1", rows))
             for rows in reversed(planned["shards"])]  # in any order, on any machine
    first = gather(ws, dataset, list(reversed(parts)))
    finish(ws, dataset, "vae", sharded, planned, first)
    assert {p.name: p.read_bytes() for p in sorted(folder.iterdir())} == whole


def test_shards_is_checked(trained):
    ws, params = trained
    bad = params | {"sample": params["sample"] | {"shards": 0}}
    with pytest.raises(ConfigError, match="shards"):
        plan(ws, "bc", "vae", bad)
