"""Sampling throughput: Adult rows and digits images per second, per family.

    python -m bench.throughput [--models DIR] [--rows 20000] [--images 2000]

Adult models come from DIR/adult-seed0-<family> (as `bench.augmenter --models DIR` saves
them) or are fitted at the defaults; digits models are fitted with one epoch and no step
minimum, since the cost of sampling depends on the network, not on how well it was
trained. Each figure is the best of 3 timed `sample` calls after one warm-up call, rows
spread evenly over the classes. Writes bench/results/throughput.json with the machine's
cores and load.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from augment.generators import get_generator
from bench.common import adult_split, digits_split, machine, sample_speed

RESULTS = Path(__file__).parent / "results" / "throughput.json"
FAMILIES = ("vae", "gan", "diffusion", "autoregressive")
TARGETS = {"vae": 100_000, "gan": 100_000, "diffusion": 20_000}  # Adult rows/s (#19)
IMAGE_TARGET = 500  # digits images/s, every family (#19)


def per_second(generator, total: int, repeats: int = 3) -> float:
    """Best rows (or images) per second of `repeats` calls sampling `total` in all."""
    sample_speed(generator, total, seed=0)  # warm-up: lazy imports, allocator
    return total / min(sample_speed(generator, total, seed=seed) for seed in range(1, repeats + 1))


def adult_model(family: str, models: Path | None, X, y):
    from augment.generators import load_generator

    folder = models / f"adult-seed0-{family}" if models else None
    if folder is not None and folder.is_dir():
        return load_generator(folder), str(folder)
    return get_generator(family, progress="never").fit(X, y), "fitted at the defaults"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, help="folder of saved Adult models")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--rows", type=int, default=20_000, help="Adult rows per timed call")
    parser.add_argument("--images", type=int, default=2_000, help="digits images per timed call")
    args = parser.parse_args()
    results: dict = {"machine": machine(), "adult_rows_per_s": {}, "digits_images_per_s": {},
                     "targets": {"adult_rows_per_s": TARGETS, "digits_images_per_s": IMAGE_TARGET}}
    X_tr, _, y_tr, _ = adult_split()
    D_tr, _, d_tr, _ = digits_split()
    for family in args.families:
        gen, source = adult_model(family, args.models, X_tr, y_tr)
        rate = per_second(gen, args.rows)
        results["adult_rows_per_s"][family] = {"rate": round(rate), "model": source}
        images = get_generator(family, epochs=1, min_steps=0, progress="never").fit(D_tr, d_tr)
        image_rate = per_second(images, args.images)
        results["digits_images_per_s"][family] = round(image_rate, 1)
        print(f"{family:<15} Adult {rate:>9,.0f} rows/s   digits {image_rate:>8,.1f} images/s",
              flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
