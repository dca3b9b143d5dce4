"""`make demo`: run the pipeline on the builtin default data and say where results are.

    python -m pipelines.demo [--params params.yaml]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from augment.errors import AugmentError
from pipelines.params import load_params
from pipelines.prepare import PREPARED, prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        params = load_params(args.params)
        names = list(params.get("datasets") or {})
        for name in names:
            prepare(name, params)
    except AugmentError as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 2
    print(f"\n{'dataset':<16}{'modality':<10}{'train':>7}{'val':>7}{'test':>7}  train rows per class")
    for name in names:
        info = json.loads((PREPARED / name / "info.json").read_text())
        sizes = {k: sum(v.values()) for k, v in info["counts"].items()}
        per_class = ", ".join(f"{c}:{n}" for c, n in info["counts"]["train"].items())
        print(f"{name:<16}{info['modality']:<10}{sizes['train']:>7}{sizes['val']:>7}"
              f"{sizes['test']:>7}  {per_class}")
    print(f"\nprepared splits and schemas: {Path(PREPARED).resolve()}/<dataset>/ "
          f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
