"""Two fits at once: torch's default threads vs each task taking its share of the cores.

    python -m bench.threads [--epochs 20]

Runs `augment fit` (vae on builtin digits) alone, then two at once with torch's default
threads (every core each), then two at once with AUGMENT_PARALLEL_TASKS=2 (cores / 2
threads each, as the pipeline's tasks do). Prints wall seconds; writes
bench/results/threads.json. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from augment.threads import available_cores

RESULTS = Path(__file__).parent / "results" / "threads.json"


def fits(n: int, epochs: int, env: dict[str, str]) -> float:
    """Wall seconds for `n` concurrent fits."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "augment.cli", "fit", "--data", "builtin:digits",
               "--generator", "vae", "--set", f"epochs={epochs}", "--set", "progress=never"]
        start = time.perf_counter()
        procs = [subprocess.Popen([*cmd, "--out", f"{tmp}/m{i}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for i in range(n)]
        codes = [p.wait() for p in procs]
        assert codes == [0] * n, codes
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items()
            if k not in ("AUGMENT_THREADS", "AUGMENT_PARALLEL_TASKS", "OMP_NUM_THREADS")}
    result = {"cores": available_cores(), "load_avg": [round(x, 2) for x in os.getloadavg()],
              "epochs": args.epochs,
              "one_fit_s": fits(1, args.epochs, base),
              "two_fits_default_threads_s": fits(2, args.epochs, base),
              "two_fits_shared_threads_s": fits(2, args.epochs, base | {"AUGMENT_PARALLEL_TASKS": "2"})}
    result = {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
