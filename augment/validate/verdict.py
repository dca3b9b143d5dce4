"""The gate's verdict as one object: `GateReport`, and `select` over several of them.

The gate (gate.py) writes a `GateReport` to `<gate folder>/gate.json`; publish, select,
evaluate, the HTML report, the demo and the DAG read it back with `GateReport.load`
instead of parsing JSON themselves. Each `Check` is one verdict: what was observed, the
threshold it was held to, and whether it passed.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from augment.errors import AugmentError
from augment.io import json_safe
from augment.workspace import GATE_FILE


@dataclass(frozen=True)
class Check:
    """One verdict of the gate.

    Attributes:
        name: stable key, e.g. "expectations", "detection_auc", "utility".
        label: short human name with its rule, e.g. "detection AUC (max 0.95)".
        observed: the measured value (a number, or None when it could not be measured).
        threshold: the limit it is held to (0 failed expectations for the suite; None when
            the check could not be measured).
        passed: whether the check holds.
        message: one sentence: the failure in words, or what held.
    """

    name: str
    label: str
    observed: Any
    threshold: Any
    passed: bool
    message: str


@dataclass(frozen=True)
class GateReport:
    """Everything the gate decided about one synthetic set.

    Attributes:
        checks: every verdict, in a fixed order (expectations first).
        rows: synthetic rows judged; requested: {class: rows} they were asked for.
        expectations: {"evaluated": n, "failed": n} of the GX suite.
        metrics: fidelity / detection / privacy / utility figures (see metrics.py); empty
            when the metrics could not be computed (structural failure).
        data_docs: the GX Data Docs page, relative to the report folder.
        config: the thresholds used (GateConfig as a dict).
        holdout: where the real held-out rows came from (e.g. "validation split").
        filters: what the per-row filters dropped before the gate (filters.py's
            FilterSummary as a dict: per filter its threshold, the real holdout's pass
            rate and the share dropped per class); empty when they were off.
        selection: under sample.policy auto, the choice of the amount (augmenter.
            AugmenterReport.to_dict: "helps", "chosen", "reason", the candidates); empty
            under a fixed policy.
    """

    checks: tuple[Check, ...]
    rows: int
    requested: dict[str, int]
    expectations: dict[str, int]
    metrics: dict[str, Any]
    data_docs: str
    config: dict[str, Any]
    holdout: str = "validation split"
    filters: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = field(default=None, compare=False)  # set by load/save, not stored

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def helps(self) -> bool:
        """False only when the auto policy measured that no amount of these rows raises
        validation macro-F1 beyond its noise (publish then leaves them out)."""
        return bool(self.selection.get("helps", True))

    @property
    def failures(self) -> list[str]:
        return [c.message for c in self.checks if not c.passed]

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def metric(self, *keys: str) -> Any:
        """A figure of `metrics` by its path, e.g. metric("utility", "tstr_macro_f1"); None if absent."""
        value: Any = self.metrics
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    @property
    def data_docs_path(self) -> Path | None:
        return None if self.folder is None else self.folder / self.data_docs

    def to_dict(self) -> dict[str, Any]:
        payload = asdict(self)
        payload.pop("folder")
        payload["passed"] = self.passed
        return json_safe(payload)

    def save(self, folder: str | Path) -> Path:
        """Write gate.json into `folder` (the caller makes the folder atomic)."""
        path = Path(folder) / GATE_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> GateReport:
        """Read `folder`/gate.json; a missing or foreign file is a clear error."""
        folder = Path(folder)
        path = folder / GATE_FILE
        if not path.is_file():
            raise AugmentError(f"no gate report at {path}; run the validate stage first")
        try:
            data = json.loads(path.read_text())
            checks = tuple(Check(**c) for c in data["checks"])
            return cls(checks=checks, rows=int(data["rows"]), requested=dict(data["requested"]),
                       expectations=dict(data["expectations"]), metrics=dict(data["metrics"]),
                       data_docs=str(data["data_docs"]), config=dict(data["config"]),
                       holdout=str(data.get("holdout", "")),
                       filters=dict(data.get("filters") or {}),
                       selection=dict(data.get("selection") or {}), folder=folder)
        except (ValueError, KeyError, TypeError) as err:
            raise AugmentError(f"{path} is not a gate report: {err}") from err

    def figures(self) -> dict[str, float]:
        """The scalar figures, flat ("privacy.dcr_ratio": 1.2), for `dvc metrics show`."""
        flat: dict[str, float] = {"passed": float(self.passed), "rows": float(self.rows)}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}.{key}" if prefix else key, inner)
            elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                flat[prefix] = float(value)

        metrics = {k: v for k, v in self.metrics.items() if k != "fidelity"}
        fidelity = self.metrics.get("fidelity", {})
        metrics["fidelity"] = {k: v for k, v in fidelity.items() if not isinstance(v, dict)}
        walk("", metrics)
        flat.update({f"filters.{k}": v for k, v in filter_figures(self.filters).items()})
        return flat

    def summary(self, title: str = "") -> str:
        """Readable lines for a terminal or a task log."""
        head = "PASSED" if self.passed else "FAILED"
        lines = [f"{title + ' ' if title else ''}validation {head}: {self.rows} synthetic rows, "
                 f"{self.expectations['failed']}/{self.expectations['evaluated']} expectations failed"]
        lines += [f"  - {failure}" for failure in self.failures]
        if self.filters:
            figures = filter_figures(self.filters)
            each = ", ".join(f"{name} {figures[f'{name}.share']:.1%}" for name in self.filters["filters"])
            lines.append(f"  Filters dropped {figures['dropped_share']:.1%} of the rows drawn "
                         f"({each}) and drew replacements")
        if self.selection:
            lines.append(f"  Auto policy: {self.selection['chosen']} ({self.selection['reason']})"
                         if self.helps else f"  Auto policy: not published: {self.selection['reason']}")
        docs = self.data_docs_path or self.data_docs
        lines.append(f"  Data Docs: {docs}")
        return "\n".join(lines)


def filter_figures(summary: dict[str, Any]) -> dict[str, float]:
    """Flat figures of a filter summary (filters.json): "<filter>.share" (dropped / drawn
    over all classes), "dropped_share" (by any filter) and "rounds" (refills)."""
    if not summary:
        return {}
    drawn = sum(summary["drawn"].values())
    out = {f"{name}.share": float(f["share_all"]) for name, f in summary["filters"].items()}
    out["dropped_share"] = float(sum(summary["dropped"].values()) / drawn) if drawn else 0.0
    out["rounds"] = float(summary["rounds"])
    return out


@dataclass(frozen=True)
class Selection:
    """The generators to publish and why."""

    chosen: list[str]
    reason: str


def select(reports: dict[str, GateReport], rule: str = "best", require_all: bool = False,
           dataset: str = "") -> Selection:
    """Pick what to publish from each generator's gate report.

    rule: "best" keeps the passing generator with the best validation macro-F1 after
        augmentation (ties: by name); "all" keeps every passing one.
    require_all: publish nothing unless every generator passed.

    Under sample.policy auto, a passing generator whose rows raised validation macro-F1
    by no more than its noise (`GateReport.helps` False) is left out; when that leaves
    none, the selection is empty: the real rows alone are published (do no harm).

    Raises AugmentError, listing every failure and its Data Docs page, when nothing may
    be published.
    """
    if rule not in ("best", "all"):
        raise AugmentError(f"publish.select must be best or all, got {rule!r}")
    passing = [g for g, r in reports.items() if r.passed]
    failed = {g: r for g, r in reports.items() if not r.passed}
    if not passing or (require_all and failed):
        prefix = f"{dataset}/" if dataset else ""
        lines = [f"{prefix}{g}: " + "; ".join(r.failures) + f" (Data Docs: {r.data_docs_path or r.data_docs})"
                 for g, r in failed.items()]
        why = "no generator passed its gate" if not passing else "publish.require_all is set"
        raise AugmentError(f"nothing published ({why}):\n  " + "\n  ".join(lines))
    idle = [g for g in passing if not reports[g].helps]
    if idle:
        passing = [g for g in passing if reports[g].helps]
        if not passing:
            why = "; ".join(f"{g}: {reports[g].selection.get('reason', '')}" for g in idle)
            return Selection([], f"real rows only: no generator's rows raised validation macro-F1 "
                                 f"beyond its noise under sample.policy auto ({why})")
    if rule == "all":
        return Selection(passing, "every generator that passed its gate"
                         + (f" and helped ({', '.join(idle)} did not)" if idle else ""))
    scores = {g: reports[g].metric("utility", "augmented_macro_f1") for g in passing}
    best = max(passing, key=lambda g: (scores[g] if scores[g] is not None else -1.0, g))
    detail = ", ".join(f"{g} {s:.4f}" for g, s in sorted(scores.items()) if s is not None)
    return Selection([best], "best validation macro-F1 after augmentation among passing "
                             f"generators ({detail})")
