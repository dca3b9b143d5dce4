"""Diffusion samplers on tables: rows per second, Adult TSTR and breast_cancer gate passes.

    python -m bench.sampler [--variants ddim:25 ddim:10 dpm++2m:12 dpm++2m:15 ddim:25:0.2-0.8]

- Adult (stratified 70/30): one diffusion fit at the defaults; per variant, TSTR macro-F1
  of a class-balanced synthetic set (sample seeds 1 and 2) and the best of 3 timed
  `sample` calls of 20,000 rows after a warm-up. The first variant is also timed without
  the per-label conditioning (`TableDenoiser.at_step` replaced by the full forward), the
  sampling path before it.
- breast_cancer (bench.gate_catch's split and balance policy): fits with seeds 0-2, each
  variant's rows gated exactly as the validate stage does.

A variant changes only how a fitted model samples (`sampler`, `ddim_steps`,
`guidance_interval`), so every variant reads the same fits. Writes
bench/results/sampler.json (or --out) with the machine's cores and load.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from augment.errors import ConfigError
from augment.generators import get_generator
from augment.generators.diffusion_nets import TableDenoiser, UNet
from augment.io import write_json
from augment.sampling import policy_counts
from augment.validate import metrics
from augment.validate.gate import GateConfig, LabelledData, run_gate
from bench.common import adult_split, machine
from bench.gate_catch import case_splits
from bench.throughput import per_second

RESULTS = Path(__file__).parent / "results" / "sampler.json"
VARIANTS = ("ddim:25", "ddim:10", "dpm++2m:10", "dpm++2m:12", "dpm++2m:15")
TIMED_ROWS = 20_000


def parse_variant(variant: str) -> dict:
    """The diffusion config fields of "SAMPLER:STEPS[:LOW-HIGH]" (LOW-HIGH: the guidance
    interval, noise levels t/T); ValueError otherwise."""
    sampler, _, rest = variant.partition(":")
    steps, _, interval = rest.partition(":")
    low, _, high = interval.partition("-")
    try:
        fields = {"sampler": sampler, "ddim_steps": int(steps),
                  "guidance_interval": (float(low), float(high)) if interval else (0.0, 1.0)}
    except ValueError:
        raise ValueError(f"a variant is SAMPLER:STEPS[:LOW-HIGH], got {variant!r}") from None
    return fields


def with_sampler(gen, variant: str):
    """`gen` sampling with `variant` (see parse_variant); the fitted weights are kept."""
    gen.config = dataclasses.replace(gen.config, **parse_variant(variant))
    return gen


def adult(variants: list[str]) -> list[dict]:
    X_tr, X_te, y_tr, y_te = adult_split()
    gen = get_generator("diffusion", progress="never", seed=0).fit(X_tr, y_tr)
    classes, sizes = np.unique(y_tr, return_counts=True)
    balanced = {c: int(sizes.max()) for c in classes.tolist()}
    rows = []
    for variant in variants:
        with_sampler(gen, variant)
        tstr = [round(metrics.tstr(X_tr, *gen.sample(balanced, seed=s), X_te, y_te), 4)
                for s in (1, 2)]
        rows.append({"variant": variant, "tstr": tstr, "rows_per_s": round(per_second(gen, TIMED_ROWS))})
        print(f"adult {variant:<12} TSTR {tstr}  {rows[-1]['rows_per_s']:,} rows/s", flush=True)
    with_sampler(gen, variants[0])
    cached = TableDenoiser.at_step
    try:
        TableDenoiser.at_step = UNet.at_step  # the plain forward: everything once per row
        rows.append({"variant": f"{variants[0]} without per-label conditioning",
                     "rows_per_s": round(per_second(gen, TIMED_ROWS))})
    finally:
        TableDenoiser.at_step = cached
    print(f"adult {rows[-1]['variant']}: {rows[-1]['rows_per_s']:,} rows/s", flush=True)
    return rows


def breast_cancer(variants: list[str], seeds: tuple[int, ...]) -> list[dict]:
    train, val, _, (policy, ratio), _ = case_splits("breast_cancer")
    counts = policy_counts(train.class_counts(), policy, ratio)
    rows = []
    for seed in seeds:
        gen = get_generator("diffusion", progress="never", seed=seed).fit(
            train.X, train.y, schema=train.schema)
        for variant in variants:
            X_new, y_new = with_sampler(gen, variant).sample(counts, seed=1)
            with tempfile.TemporaryDirectory() as tmp:
                report = run_gate(LabelledData(train.X, train.y), LabelledData(X_new, y_new),
                                  LabelledData(val.X, val.y), counts, Path(tmp) / "gate",
                                  GateConfig(), schema=train.schema, target=train.target or "label")
            rows.append({"variant": variant, "fit_seed": seed, "gate_passed": report.passed,
                         "failures": report.failures})
            print(f"breast_cancer seed {seed} {variant:<12} gate "
                  f"{'PASS' if report.passed else 'FAIL: ' + '; '.join(report.failures)[:120]}",
                  flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON file (default {RESULTS})")
    args = parser.parse_args()
    for variant in args.variants:  # a bad variant fails here, before any fit
        try:
            get_generator("diffusion", **parse_variant(variant))
        except (ValueError, ConfigError) as err:
            parser.error(str(err))
    result = {"machine": machine(), "adult": adult(args.variants),
              "breast_cancer": breast_cancer(args.variants, tuple(args.seeds))}
    passes = {v: sum(r["gate_passed"] for r in result["breast_cancer"] if r["variant"] == v)
              for v in args.variants}
    result["breast_cancer_passes"] = passes
    print("breast_cancer gate passes:", passes)
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
