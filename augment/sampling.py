"""Class-count policies: how many synthetic rows to ask for, per class.

- "balance": raise every class to `ratio` x the size of the largest (ratio 1.0, the
  default: full balance; 0.5: every class to at least half the largest);
- "ratio": k new rows per real row of each class (k may be fractional; rounded);
- explicit: {class: n};
- "auto" (pipeline and CLI only): the amount of `SEARCH_AMOUNTS` that raises validation
  macro-F1 most beyond its noise (augment.augmenter.select_amount).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from augment.errors import ConfigError

POLICIES = ("balance", "ratio", "counts", "auto")  # auto: the pipeline measures the amount
MAX_RATIO = 1000.0  # new rows per real row
MAX_ROWS = 10_000_000  # synthetic rows one request may ask for in all


class NoRowsError(ConfigError):
    """A policy or request that asks for no new rows at all (e.g. balance on balanced
    classes): an error for a stage, a candidate to skip for the Augmenter."""


def check_counts(counts: Mapping[Any, Any], where: str = "counts") -> None:
    """Every count a non-negative integer, not all zero, at most MAX_ROWS in all."""
    for label, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, int):
            raise ConfigError(f"{where}: the count for class {label!r} must be an integer, got {n!r}")
        if n < 0:
            raise ConfigError(f"{where}: the count for class {label!r} must be >= 0, got {n}")
    total = sum(counts.values())
    if total == 0:
        raise NoRowsError(f"{where} ask for no rows at all ({dict(counts)}); ask for at least one")
    if total > MAX_ROWS:
        raise ConfigError(f"{where} ask for {total:,} rows; at most {MAX_ROWS:,} per request "
                          "(sample in several requests or shards)")


def check_policy(policy: str, ratio: float = 1.0, counts: Mapping[Any, int] | None = None) -> None:
    """Raise ConfigError naming the problem when a policy and its ratio / counts do not fit."""
    if policy not in POLICIES:
        raise ConfigError(f"unknown class-count policy {policy!r}; use {', '.join(POLICIES)}")
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not math.isfinite(ratio):
        raise ConfigError(f"ratio must be a finite number, got {ratio!r}")
    if policy == "balance" and not 0 < ratio <= 1:
        raise ConfigError(f"for the balance policy, ratio is the share of the largest class "
                          f"to raise every class to: it must be in (0, 1], got {ratio}")
    if policy == "ratio" and not 0 <= ratio <= MAX_RATIO:
        raise ConfigError(f"ratio (new rows per real row) must be in [0, {MAX_RATIO:g}], got {ratio}")
    if policy == "counts":
        if not counts:
            raise ConfigError("the 'counts' policy needs a mapping {class: rows}")
        check_counts(counts)


def policy_counts(train_counts: Mapping[Any, int], policy: str = "balance", ratio: float = 1.0,
                  counts: Mapping[Any, int] | None = None) -> dict[Any, int]:
    """Synthetic rows to sample per class.

    Args:
        train_counts: real training rows per class.
        policy: "balance" | "ratio" | "counts".
        ratio: k for the "ratio" policy (>= 0); for "balance", the share of the largest
            class every class is raised to (0 < ratio <= 1).
        counts: the explicit mapping for the "counts" policy.

    Raises ConfigError when the policy asks for no rows at all (e.g. balance on balanced
    classes), so no stage goes on with an empty synthetic set.
    """
    check_policy(policy, ratio, counts)
    if policy == "auto":
        raise ConfigError("the auto policy has no fixed counts: the amount is chosen by measurement "
                          "(augment.augmenter.select_amount)")
    if policy == "balance":
        goal = int(round(ratio * max(train_counts.values())))
        wanted = {c: max(0, goal - n) for c, n in train_counts.items()}
    elif policy == "ratio":
        wanted = {c: int(round(ratio * n)) for c, n in train_counts.items()}
    else:
        wanted = dict(counts)
    if not any(wanted.values()):
        raise NoRowsError(f"the {policy} policy (ratio {ratio}) asks for no new rows: training "
                          f"rows per class are {dict(train_counts)}; use ratio or counts")
    check_counts(wanted, f"the {policy} policy (ratio {ratio})")
    return wanted


def parse_counts(text: str) -> dict[str, int]:
    """Parse "a=10,b=5" into {"a": 10, "b": 5}; errors name the bad item."""
    result = {}
    for item in text.split(","):
        label, sep, number = item.strip().partition("=")
        if not sep or not label:
            raise ConfigError(f"--counts expects CLASS=N[,CLASS=N...], got {item!r}")
        if label in result:
            raise ConfigError(f"--counts names class {label!r} twice")
        try:
            result[label] = int(number)
        except ValueError as err:
            raise ConfigError(f"count for class {label!r} must be an integer, got {number!r}") from err
    check_counts(result, "--counts")
    return result


def read_counts_file(path: str | Path) -> dict[str, int]:
    """{class: rows} from a requested-counts JSON file (requested.json, a .counts.json
    sidecar); a missing, corrupt or malformed file is a DataError naming it."""
    import json

    from augment.errors import DataError

    path = Path(path)
    try:
        counts = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise DataError(f"{path} is missing; run the sample step again") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path} is not a valid counts file ({err}); sample again") from err
    if not isinstance(counts, dict) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts.values()):
        raise DataError(f"{path} must map each class to a row count >= 0, got {counts!r:.200}")
    return {str(k): v for k, v in counts.items()}


# ---- imbalanced-learn's sampling_strategy ------------------------------------------------
STRATEGIES = ("auto", "not majority", "minority", "not minority", "all")
# the amounts `sampling_strategy="search"` tries: (policy, ratio) of `policy_counts`
SEARCH_AMOUNTS: tuple[tuple[str, float], ...] = (("balance", 0.5), ("balance", 1.0),
                                                  ("ratio", 0.5), ("ratio", 1.0))


def strategy_counts(train_counts: Mapping[Any, int], strategy: Any) -> dict[Any, int]:
    """New rows per class for an imbalanced-learn over-sampling `sampling_strategy`.

    - "auto" / "not majority": every class but the largest raised to the largest;
      "minority": the smallest only; "not minority": all but the smallest; "all": all.
    - a float a in (0, 1] (two classes only): the minority raised to a x the majority.
    - a dict {class: n}: each named class raised to n rows in all (n at least its
      current count), as imbalanced-learn's over-samplers read it.
    - ("balance" | "ratio", r): `policy_counts`'s policies.
    Raises ConfigError naming the problem (unknown strategy or class, a count below the
    class's rows, a float with more than two classes, a request for no rows).
    """
    largest, smallest = max(train_counts.values()), min(train_counts.values())
    majority = next(c for c, n in train_counts.items() if n == largest)
    minority = next(c for c, n in train_counts.items() if n == smallest)
    if isinstance(strategy, tuple) and len(strategy) == 2 and strategy[0] in ("balance", "ratio"):
        return policy_counts(train_counts, strategy[0], strategy[1])
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown sampling_strategy {strategy!r}; use {', '.join(STRATEGIES)}, "
                              "'search', a float or a dict {class: rows}")
        raise_ = {"auto": [c for c in train_counts if c != majority],
                  "not majority": [c for c in train_counts if c != majority],
                  "minority": [minority],
                  "not minority": [c for c in train_counts if c != minority],
                  "all": list(train_counts)}[strategy]
        wanted = {c: (largest - n if c in raise_ else 0) for c, n in train_counts.items()}
    elif isinstance(strategy, float | int) and not isinstance(strategy, bool):
        if len(train_counts) != 2:
            raise ConfigError(f"a float sampling_strategy needs two classes, got {len(train_counts)}; "
                              "use a dict {class: rows}")
        if not 0 < strategy <= 1:
            raise ConfigError(f"a float sampling_strategy is the minority's share of the majority "
                              f"after resampling: it must be in (0, 1], got {strategy}")
        wanted = {c: 0 for c in train_counts}
        wanted[minority] = max(0, int(round(strategy * largest)) - smallest)
    elif isinstance(strategy, Mapping):
        unknown = [c for c in strategy if c not in train_counts]
        if unknown:
            raise ConfigError(f"sampling_strategy names classes {unknown} that are not in y "
                              f"(classes: {list(train_counts)})")
        below = {c: (n, train_counts[c]) for c, n in strategy.items()
                 if isinstance(n, int) and not isinstance(n, bool) and n < train_counts[c]}
        if below:
            raise ConfigError(f"sampling_strategy asks for fewer rows than a class has "
                              f"({{class: (asked, has)}}: {below}); an over-sampler only adds rows")
        wanted = {c: strategy.get(c, n) - n for c, n in train_counts.items()}
    else:
        raise ConfigError(f"sampling_strategy must be a string, a float or a dict, got "
                          f"{type(strategy).__name__}")
    check_counts(wanted, f"sampling_strategy {strategy!r}")
    return wanted
