"""The visual report of one dataset: a static HTML page with PNG figures.

`build_report` reads what the pipeline stages left in a `Workspace` (prepared splits,
training curves, synthetic samples, each generator's `GateReport`, the published
manifest, the downstream comparison), draws the figures with matplotlib into
reports/<ds>/figures/ and renders reports/<ds>/index.html from the jinja2 templates in
augment/templates/ (report.html, one template per section, macros.html). Rendering
autoescapes: every value read from an artifact (a column name, a failure message)
reaches the page as text, never as markup. The page is plain HTML with inline CSS: no
scripts, no network resources, so it opens from disk or as a CI artifact. Anything a
stage did not produce is named on the page instead of failing the build.

Sections (stable ids): summary, samples (images) or marginals (tables), curves, gate,
filters, translation, metrics, downstream. Verdicts are shown as the GateReport states them (label,
observed value, threshold and pass/fail of each `Check`); the report applies no threshold
itself. The filters section shows each generator's filters.json (the per-row filters of
the sample stage) and the worst rows they dropped beside their nearest real training rows.
The translation section shows, for each translation-family model, source -> translated
pairs it draws for the page and how far translation moved its rows.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import numpy as np
import pandas as pd

from augment.data.sources import Dataset
from augment.data.storage import read_split
from augment.errors import AugmentError
from augment.io import atomic_dir, atomic_file, read_json
from augment.validate.verdict import Check, GateReport, filter_figures
from augment.workspace import (
    CURVE_FILE,
    MODEL_CONFIG_FILE,
    REPORT_FIGURES,
    SPLITS,
    Workspace,
)

MAX_COLUMNS = 12  # marginal plots (and columns of dropped rows) shown for a table
PER_CLASS = 8  # real and synthetic images shown per class and source
PAIRS = 4  # source -> translated pairs shown per class (translation family)
PAIR_ROWS = 200  # rows per class drawn for the translation distances
REAL_COLOUR = "0.55"
FIGURES_KIND = "report-figures"  # the artifact kind of reports/<ds>/figures/ (see io.atomic_dir)

# How each gate check's observed value is printed (presentation only: the verdict and
# the threshold come from the Check). Checks absent here print with ".3g".
CHECK_FORMATS = {"exact_copy_share": ".1%", "duplicate_excess": "+.1%", "dcr_ratio": ".2f",
                 "detection_auc": ".3f", "utility": "+.3f"}
GATE_ONLY = ("expectations", "filters", "metrics")  # verdicts without a figure: shown in the gate section
# Informational figures of the metric table: (header, path in GateReport.metrics, format).
FIGURES = {
    "both": [("TSTR macro-F1", ("utility", "tstr_macro_f1"), ".3f"),
             ("val macro-F1 real", ("utility", "real_macro_f1"), ".3f"),
             ("val macro-F1 augmented", ("utility", "augmented_macro_f1"), ".3f")],
    "image": [("Fréchet distance", ("fidelity", "frechet_distance"), ".3f"),
              ("precision", ("fidelity", "precision"), ".3f"),
              ("recall", ("fidelity", "recall"), ".3f"),
              ("coverage", ("fidelity", "coverage"), ".3f")],
    "table": [("KS mean", ("fidelity", "ks_mean"), ".3f"), ("TV mean", ("fidelity", "tv_mean"), ".3f"),
              ("correlation distance", ("fidelity", "correlation_distance"), ".3f")],
}


@dataclass
class Artifacts:
    """Everything found for one dataset; a missing artifact is simply absent from its dict.

    gates holds the readable GateReports; gate_errors names each gate.json that exists
    but could not be read (generator -> the error). filters holds each generator's
    filters.json (the per-row filters' summary), dropped the worst rows they dropped;
    filter_errors names a filters.json or dropped file that could not be read.
    """

    ws: Workspace
    dataset: str
    generators: list[str]
    info: dict | None
    splits: dict[str, Dataset]
    manifest: dict | None
    downstream: dict | None
    synthetic: dict[str, Dataset] = field(default_factory=dict)
    requested: dict[str, dict] = field(default_factory=dict)
    curves: dict[str, list] = field(default_factory=dict)
    configs: dict[str, dict] = field(default_factory=dict)
    gates: dict[str, GateReport] = field(default_factory=dict)
    gate_errors: dict[str, str] = field(default_factory=dict)
    filters: dict[str, dict] = field(default_factory=dict)
    dropped: dict[str, Dataset] = field(default_factory=dict)
    filter_errors: dict[str, str] = field(default_factory=dict)

    @property
    def modality(self) -> str:
        train = self.splits.get("train")
        return train.modality if train else (self.info or {}).get("modality", "unknown")

    def colour(self, generator: str) -> str:
        return f"C{self.generators.index(generator) % 10}"

    def rel(self, path: Path) -> str:
        """`path` relative to the workspace root, as shown on the page."""
        return path.relative_to(self.ws.root).as_posix()

    @cached_property
    def ranked(self) -> list[str]:
        """The training table's columns by mutual information with the label (empty for
        images or without a training split): the order the report shows columns in."""
        train = self.splits.get("train")
        if train is None or train.modality != "table":
            return []
        return ranked_columns(train.X, train.y)


@dataclass(frozen=True)
class Section:
    """One <section>: rendered by templates/<id>.html with `data` as its context."""

    id: str
    title: str  # in the navigation bar, and the heading unless `heading` is given
    data: dict[str, Any]
    heading: str = ""


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _found(locate: Callable[..., Path], *args: str) -> Path | None:
    """The file `locate(*args)` names, or None when the workspace says it is absent."""
    try:
        return locate(*args)
    except AugmentError:
        return None


def load_artifacts(ws: Workspace, dataset: str, generators: list[str]) -> Artifacts:
    """Read every artifact of `dataset` the report shows; absent ones are skipped, a
    gate.json that cannot be read is recorded in `gate_errors`."""
    splits = {name: read_split(path) for name in SPLITS
              if (path := _found(ws.split, dataset, name)) is not None}
    art = Artifacts(ws, dataset, list(generators), info=_json(ws.dataset_info(dataset)), splits=splits,
                    manifest=_json(ws.manifest(dataset)), downstream=_json(ws.downstream(dataset)))
    for gen in generators:
        found = {"requested": _json(ws.requested(dataset, gen)),
                 "curves": _json(ws.model(dataset, gen) / CURVE_FILE),
                 "configs": _json(ws.model(dataset, gen) / MODEL_CONFIG_FILE)}
        for key, payload in found.items():
            if payload is not None:
                getattr(art, key)[gen] = payload
        if (samples := _found(ws.samples, dataset, gen)) is not None:
            train = splits.get("train")
            art.synthetic[gen] = read_split(samples, schema=train.schema if train else None)
        if ws.gate_file(dataset, gen).is_file():  # else the validate stage has not run
            try:
                art.gates[gen] = GateReport.load(ws.gate(dataset, gen))
            except AugmentError as err:
                art.gate_errors[gen] = str(err)
        _load_filters(art, gen)
    return art


def _load_filters(art: Artifacts, gen: str) -> None:
    """filters.json and the dropped rows of `gen`'s samples into `art` (absent: the
    filters were off, or the sample stage has not run); a read error into filter_errors."""
    path = art.ws.filters(art.dataset, gen)
    if not path.is_file():
        return
    try:
        art.filters[gen] = read_json(path, "filter summary", "run the sample stage again")
        if (dropped := art.ws.dropped(art.dataset, gen)) is not None:
            train = art.splits.get("train")
            art.dropped[gen] = read_split(dropped, schema=train.schema if train else None)
    except AugmentError as err:
        art.filter_errors[gen] = str(err)


def build_report(ws: Workspace, dataset: str, generators: list[str]) -> Path:
    """Write reports/<ds>/figures/ and reports/<ds>/index.html atomically; returns the page.

    generators: the ones the page covers (and in this order); those without artifacts
    are named as not run.
    """
    art = load_artifacts(ws, dataset, generators)
    with atomic_dir(ws.report_figures(dataset), FIGURES_KIND) as figs:
        data = _samples(art, figs) if art.modality == "image" else _marginals(art, figs)
        sections = [_summary(art), data, _curves(art, figs), _gate(art), _filters(art, figs),
                    _translation(art, figs), _metrics(art), _downstream(art, figs)]
        page = _environment().get_template("report.html").render(dataset=dataset, sections=sections)
    with atomic_file(ws.report_page(dataset)) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return ws.report_page(dataset)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("augment", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = number
    return env


def number(value: Any, fmt: str = ".3f") -> str:
    """A figure as text: "–" when absent or NaN; text as stored (non-finite figures are
    stored as "inf")."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, fmt)


# ---- figures (matplotlib Agg canvases, no pyplot state) ---------------------------------
def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path, top: float = 1.0) -> str:
    """Save `fig` as PNG; returns its link from the page (figures/<name>)."""
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=90, format="png")
    return _href(path.name)


def _href(name: str) -> str:
    """The link from the page to figure `name` (figures are written to a temporary folder
    that replaces reports/<ds>/figures/, so the link cannot be taken from their path)."""
    return f"{REPORT_FIGURES}/{name}"


def _is_numeric(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return False
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)


def _as_float(series: pd.Series) -> np.ndarray:
    """Numbers as float [N] with NaN for missing; datetimes as days since 1970."""
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = pd.to_datetime(series, utc=True)
        return ((stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds() / 86400).to_numpy(float)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _labels_equal(y: np.ndarray, label: Any) -> np.ndarray:
    return np.asarray(y).astype(str) == str(label)


def ranked_columns(X: pd.DataFrame, y: np.ndarray, max_rows: int = 3000) -> list[str]:
    """Columns by mutual information with the label, highest first (ties keep table order)."""
    from sklearn.feature_selection import mutual_info_classif

    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(X), min(len(X), max_rows), replace=False))
    codes, discrete = [], []
    for name in X.columns:
        part = X[name].iloc[rows]
        if _is_numeric(part):
            values = _as_float(part)
            fill = np.nanmedian(values) if np.isfinite(values).any() else 0.0
            codes.append(np.where(np.isfinite(values), values, fill))
            discrete.append(False)
        else:
            codes.append(pd.factorize(part.astype(str))[0].astype(float))
            discrete.append(True)
    mi = mutual_info_classif(np.column_stack(codes), np.asarray(y)[rows].astype(str),
                             discrete_features=np.array(discrete), random_state=0)
    order = sorted(range(len(mi)), key=lambda i: (-mi[i], i))
    return [X.columns[i] for i in order]


def _histogram(ax, real: pd.Series, synth: dict[str, pd.Series], art: Artifacts) -> None:
    r = _as_float(real)
    r = r[np.isfinite(r)]
    if len(r) == 0:
        return
    lo, hi = np.quantile(r, [0.005, 0.995])
    if np.all(r == np.round(r)) and hi - lo <= 30:  # few whole values: one bin each
        bins = np.arange(lo - 0.5, hi + 1.5)
    else:
        pad = 0.05 * (hi - lo) or 0.5
        bins = np.linspace(lo - pad, hi + pad, 31)
    edges = (bins[0], bins[-1])
    ax.hist(np.clip(r, *edges), bins, density=True, color=REAL_COLOUR, alpha=0.6, label="real")
    for gen, values in synth.items():
        s = _as_float(values)
        s = s[np.isfinite(s)]
        if len(s):  # outliers land in the edge bins rather than stretching the axis
            ax.hist(np.clip(s, *edges), bins, density=True, histtype="step", lw=1.5,
                    color=art.colour(gen), label=gen)


def _bars(ax, real: pd.Series, synth: dict[str, pd.Series], art: Artifacts, top: int = 8) -> None:
    def labels(series: pd.Series) -> pd.Series:
        return series.astype(object).where(series.notna(), "(missing)").astype(str)

    categories = labels(real).value_counts().index[:top].tolist()
    sources = {"real": real, **synth}
    width = 0.8 / len(sources)
    for i, (name, series) in enumerate(sources.items()):
        shares = labels(series).value_counts(normalize=True)
        heights = [float(shares.get(c, 0.0)) for c in categories]
        heights.append(max(0.0, 1.0 - sum(heights)))
        colour = REAL_COLOUR if name == "real" else art.colour(name)
        ax.bar(np.arange(len(heights)) + i * width, heights, width, color=colour, label=name)
    ticks = [c[:12] for c in categories] + ["other"]
    ax.set_xticks(np.arange(len(ticks)) + 0.4 - width / 2, ticks, rotation=35, ha="right", fontsize=7)
    ax.set_ylabel("share", fontsize=8)


def _legend(fig, axes) -> None:
    handles, names = [], []
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    if handles:
        fig.legend(handles, names, loc="upper center", ncol=len(names), fontsize=9, frameon=False)


def _pair_plot(art: Artifacts, real: pd.DataFrame, synth: dict[str, pd.DataFrame], cols: list[str],
               path: Path, max_points: int = 2000) -> str:
    rng = np.random.default_rng(0)

    def points(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.choice(len(frame), min(len(frame), max_points), replace=False)
        return _as_float(frame[cols[0]].iloc[idx]), _as_float(frame[cols[1]].iloc[idx])

    panels = {g: X for g, X in synth.items() if set(cols) <= set(X.columns)} or {"real only": None}
    fig = _figure(3.6 * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    rx, ry = points(real)
    for ax, (gen, frame) in zip(axes, panels.items(), strict=True):
        ax.scatter(rx, ry, s=6, color=REAL_COLOUR, alpha=0.6, label="real")
        if frame is not None:
            sx, sy = points(frame)
            ax.scatter(sx, sy, s=6, color=art.colour(gen), alpha=0.6, label=gen)
        ax.set_title(f"real vs {gen}", fontsize=9)
        ax.set_xlabel(str(cols[0])[:40], fontsize=8)
        ax.set_ylabel(str(cols[1])[:40], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, markerscale=2)
    return _save(fig, path)


# ---- sections: figures drawn here, markup in templates/<id>.html ---------------------------
def _summary(art: Artifacts) -> Section:
    info, modality = art.info or {}, art.modality
    facts = [("dataset", art.dataset), ("modality", modality), ("source", info.get("source", "?")),
             ("raw fingerprint", str(info.get("fingerprint", "?"))[:16])]
    if (train := art.splits.get("train")) is not None:
        shape = train.X.shape[1:] if modality == "image" else (train.X.shape[1],)
        unit = " pixels" if modality == "image" else " columns"
        facts += [("target", train.target or "label"), ("features", " x ".join(map(str, shape)) + unit)]
    counts = None
    if art.splits:
        classes = list(dict.fromkeys(str(c) for ds in art.splits.values() for c in ds.classes))
        per_split = {n: {str(k): v for k, v in ds.class_counts().items()} for n, ds in art.splits.items()}
        gens = [g for g in art.generators if g in art.requested]
        counts = {"header": ["class", *art.splits, *(f"{g} (requested)" for g in gens)],
                  "rows": [[c, *(per_split[n].get(c, 0) for n in art.splits),
                            *(art.requested[g].get(c, 0) for g in gens)] for c in classes],
                  "total": ["all", *(len(ds) for ds in art.splits.values()),
                            *(sum(art.requested[g].values()) for g in gens)]}
    return Section("summary", "Summary", {
        "facts": facts, "counts": counts, "prepared": art.rel(art.ws.prepared(art.dataset)),
        "published": _published(art.manifest), "manifest": art.rel(art.ws.manifest(art.dataset))},
        heading=f"Summary: {art.dataset}")


def _published(manifest: dict | None) -> dict | None:
    if manifest is None:
        return None
    params = manifest.get("params") or {}
    train_params = params.get("train", {})
    generators = manifest.get("generators", [])
    lineage = [
        ("raw data", f"{manifest.get('source', '?')} (fingerprint "
                     f"{str(manifest.get('raw_fingerprint', '?'))[:16]})"),
        ("prepared with", json.dumps(params.get("prepare"))),
        ("generators", "; ".join(f"{g} {json.dumps(train_params.get(g, {}))}" for g in generators)),
        # train.warm_start: previous -> the version each model started from (publish stage)
        *((f"{g} started from", version or "scratch (cold start)")
          for g, version in (manifest.get("parents") or {}).items()),
        ("code revision", manifest.get("git_revision", "?")),
        ("published data", f"{manifest.get('data_file', '?')} (content "
                           f"{str(manifest.get('content_hash', '?'))[:16]})"),
    ]
    rows = manifest.get("rows", {})
    return {"generators": generators, "real": rows.get("real", "?"),
            "synthetic": rows.get("synthetic", "?"), "selection": manifest.get("selection", "?"),
            "lineage": lineage}


def _samples(art: Artifacts, figs: Path) -> Section:
    from augment.plots import image_grid

    train = art.splits.get("train")
    if train is None:
        return Section("samples", "Samples", {"train": False})
    low, high = float(np.min(train.X)), float(np.max(train.X))
    high = high if high > low else low + 1.0
    scale = max(1, round(36 / train.X.shape[-1]))  # 8x8 digits 4x, 28x28 images 1x
    rng = np.random.default_rng(0)

    def cell(images: np.ndarray, name: str, alt: str) -> dict[str, str]:
        if len(images) == 0:
            return {"note": "none"}
        chosen = images[np.sort(rng.choice(len(images), min(len(images), PER_CLASS), replace=False))]
        image_grid(chosen, figs / name, low, high, columns=PER_CLASS // 2, scale=scale)
        return {"src": _href(name), "alt": alt}

    rows = []
    for i, label in enumerate(train.classes):
        cells = [cell(train.X[_labels_equal(train.y, label)], f"samples_{i}_real.png", f"real {label}")]
        for gen in art.generators:
            syn = art.synthetic.get(gen)
            cells.append({"note": "no samples"} if syn is None else
                         cell(syn.X[_labels_equal(syn.y, label)], f"samples_{i}_{gen}.png", f"{gen} {label}"))
        rows.append({"label": str(label), "cells": cells})
    return Section("samples", "Samples per class", {
        "train": True, "per_class": PER_CLASS, "generators": art.generators, "rows": rows,
        "absent": [g for g in art.generators if g not in art.synthetic]})


def _marginals(art: Artifacts, figs: Path) -> Section:
    train = art.splits.get("train")
    if train is None or train.modality != "table":
        return Section("marginals", "Marginals", {"train": False})
    ranked = art.ranked
    shown = ranked[:MAX_COLUMNS]
    synth = {g: ds.X for g, ds in art.synthetic.items()}
    ncols = min(4, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    fig = _figure(3.4 * ncols, 2.5 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, shown, strict=False):
        columns = {g: X[name] for g, X in synth.items() if name in X.columns}
        draw = _histogram if _is_numeric(train.X[name]) else _bars
        draw(ax, train.X[name], columns, art)
        ax.set_title(str(name)[:40], fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    _legend(fig, axes)
    numeric = [c for c in ranked if _is_numeric(train.X[c])][:2]
    pairs = None
    if len(numeric) == 2:
        pairs = {"src": _pair_plot(art, train.X, synth, numeric, figs / "pairs.png"),
                 "alt": f"pair plot of {numeric[0]} and {numeric[1]}"}
    return Section("marginals", "Marginal distributions", {
        "train": True, "shown": len(shown), "columns": len(ranked),
        "src": _save(fig, figs / "marginals.png", top=1 - 0.4 / fig.get_figheight()),
        "hidden": [str(c) for c in ranked[len(shown):]], "pairs": pairs,
        "absent": [g for g in art.generators if g not in art.synthetic]})


def _curves(art: Artifacts, figs: Path) -> Section:
    entries = []
    for gen in art.generators:
        params = (art.configs.get(gen) or {}).get("params")
        entry = {"generator": gen, "params": None if params is None else json.dumps(params), "src": None}
        entries.append(entry)
        if not (curve := art.curves.get(gen)):
            continue
        keys = list(dict.fromkeys(k for record in curve for k in record if k != "epoch"))
        ncols = min(4, len(keys)) or 1
        fig = _figure(3.0 * ncols, 2.3 * math.ceil(len(keys) / ncols))
        axes = fig.subplots(math.ceil(len(keys) / ncols), ncols, squeeze=False).ravel()
        for ax, key in zip(axes, keys, strict=False):
            pairs = [(r["epoch"], r[key]) for r in curve if isinstance(r.get(key), int | float)]
            ax.plot(*zip(*pairs, strict=True), marker="o" if len(pairs) <= 30 else None, ms=3,
                    color=art.colour(gen))
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes[len(keys):]:
            ax.set_visible(False)
        entry["src"] = _save(fig, figs / f"curve_{gen}.png")
    return Section("curves", "Training curves", {"entries": entries})


def _docs_href(art: Artifacts, report: GateReport) -> str | None:
    """Relative link from the page to a generator's GX Data Docs, if they exist."""
    path = report.data_docs_path
    if path is None or not path.is_file():
        return None
    rel = os.path.relpath(path.resolve(), art.ws.report_dir(art.dataset).resolve())
    return quote(Path(rel).as_posix())


def _gate(art: Artifacts) -> Section:
    rows = []
    for gen in art.generators:
        report = art.gates.get(gen)
        rows.append({"generator": gen, "report": report, "error": art.gate_errors.get(gen),
                     "docs": None if report is None else _docs_href(art, report)})
    return Section("gate", "Validation gate", {"rows": rows})


def _filters(art: Artifacts, figs: Path) -> Section:
    """Per generator with a filters.json: each filter's threshold, real holdout pass rate
    and share dropped (overall and per class), and its worst dropped rows beside their
    nearest real training rows (a figure for images, small tables for tables)."""
    entries, off = [], []
    for gen in art.generators:
        summary, error = art.filters.get(gen), art.filter_errors.get(gen)
        if summary is None and error is None:
            off.append(gen if gen in art.synthetic else f"{gen} (not sampled)")
            continue
        entry: dict[str, Any] = {"generator": gen, "error": error, "table": None, "worst": [],
                                 "src": None, "alt": f"worst rows the filters dropped from {gen}"}
        entries.append(entry)
        if summary is None:
            continue
        try:
            entry["table"] = _filter_table(summary)
            pairs = _worst_pairs(summary, art.dropped.get(gen), art.splits.get("train"))
        except (KeyError, TypeError, ValueError, AttributeError) as err:  # a malformed file
            entry["table"] = None  # shown as its error alone, not half a table
            entry["error"] = (f"{art.rel(art.ws.filters(art.dataset, gen))} is not a filter "
                              f"summary: {type(err).__name__} {err}")
            continue
        dropped = art.dropped.get(gen)
        if pairs and art.modality == "image":
            entry["src"] = _worst_images(pairs, dropped, art.splits["train"],
                                         figs / f"filters_{gen}.png")
        elif pairs:
            entry["worst"] = _worst_tables(pairs, dropped, art)
    return Section("filters", "Per-row filters", {"entries": entries, "off": off})


def _filter_table(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures of one filters.json shown in the table: per filter its threshold, real
    holdout pass rate, share dropped and "class share, ..." per class; the totals."""
    def per_class(shares: dict[str, float]) -> str:
        return ", ".join(f"{label} {float(share):.1%}" for label, share in shares.items())

    rows = [{"name": str(name), "threshold": f["threshold"], "holdout_pass": float(f["holdout_pass"]),
             "share": float(f["share_all"]), "per_class": per_class(f["share"])}
            for name, f in summary["filters"].items()]
    drawn, dropped = summary["drawn"], summary["dropped"]
    figures = filter_figures(summary)  # the gate's reading of the same summary
    return {"rows": rows, "drawn": sum(drawn.values()), "dropped": sum(dropped.values()),
            "share": figures["dropped_share"], "rounds": int(figures["rounds"]),
            "per_class": per_class({c: dropped[c] / n if n else 0.0 for c, n in drawn.items()}),
            "kept": sum(summary["kept"].values()), "requested": sum(summary["requested"].values())}


def _worst_pairs(summary: dict[str, Any], dropped: Dataset | None, train: Dataset | None
                 ) -> dict[str, list[dict[str, Any]]]:
    """{filter: [{"row", "nearest", "score", "label", "real_label"}]} of the worst entries
    whose dropped row and nearest training row both exist (a filters.json older than the
    prepared split may point past its end): positions in `dropped` and `train`, the
    filter's score, the dropped row's and the training row's class."""
    if dropped is None or train is None:
        return {}
    out = {}
    for name, entries in (summary.get("worst") or {}).items():
        found = [{"row": int(e["row"]), "nearest": int(e["nearest_train_row"]), "score": e["score"]}
                 for e in entries]
        found = [e for e in found if 0 <= e["row"] < len(dropped) and 0 <= e["nearest"] < len(train)]
        if found:
            out[str(name)] = [{**e, "label": str(dropped.y[e["row"]]),
                               "real_label": str(train.y[e["nearest"]])} for e in found]
    return out


def _pixels(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """One image [H, W] or [C, H, W] as values in [0, 1], [H, W] or [H, W, 3], for imshow."""
    x = (np.asarray(image, dtype=float) - low) / (high - low if high > low else 1.0)
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x[:3], 0, -1)
    return np.clip(x, 0.0, 1.0)


def _worst_images(pairs: dict[str, list[dict[str, Any]]], dropped: Dataset, train: Dataset,
                  path: Path) -> str:
    """A figure with one row per filter: pairs dropped image | nearest real training image,
    titled with the filter, class and score."""
    low, high = float(np.min(train.X)), float(np.max(train.X))
    width = max(len(items) for items in pairs.values())
    fig = _figure(1.25 * 2 * width, 1.6 * len(pairs))
    axes = fig.subplots(len(pairs), 2 * width, squeeze=False)
    for row, (name, items) in enumerate(pairs.items()):
        for k in range(2 * width):
            axes[row, k].set_axis_off()
        for k, item in enumerate(items):
            left, real = axes[row, 2 * k], axes[row, 2 * k + 1]
            left.imshow(_pixels(dropped.X[item["row"]], low, high), cmap="gray", vmin=0, vmax=1,
                        interpolation="nearest")
            left.set_title(f"{name}\nclass {item['label']}, {number(item['score'], '.3g')}",
                           fontsize=7)
            real.imshow(_pixels(train.X[item["nearest"]], low, high), cmap="gray", vmin=0, vmax=1,
                        interpolation="nearest")
            real.set_title(f"nearest real\nclass {item['real_label']}", fontsize=7)
    return _save(fig, path)


def _cell(value: Any) -> str:
    """A table value as short text: numbers with 4 significant digits, "–" when missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, float | np.floating):
        return format(float(value), ".4g")
    return str(value)[:24]


def _worst_tables(pairs: dict[str, list[dict[str, Any]]], dropped: Dataset, art: Artifacts
                  ) -> list[dict[str, Any]]:
    """Per filter, rows [kind, class, score, *values] of each dropped row and its nearest
    real training row, over the MAX_COLUMNS columns the marginals section shows first
    (ranked by mutual information with the label)."""
    train = art.splits["train"]
    columns = [c for c in art.ranked if c in dropped.X.columns][:MAX_COLUMNS]
    tables = []
    for name, items in pairs.items():
        rows = []
        for item in items:
            rows.append(["dropped", item["label"], number(item["score"], ".4g"),
                         *(_cell(dropped.X[c].iloc[item["row"]]) for c in columns)])
            rows.append([f"nearest real (train row {item['nearest']})", item["real_label"], "",
                         *(_cell(train.X[c].iloc[item["nearest"]]) for c in columns)])
        tables.append({"filter": name, "columns": [str(c) for c in columns], "rows": rows})
    return tables


def _translation(art: Artifacts, figs: Path) -> Section:
    """Per translation-family model: PAIRS source -> translated pairs per requested class,
    drawn for this page (seed 0) from the trained model, and `pair_distances` over
    PAIR_ROWS rows per class (a figure for images, a table for tables)."""
    from augment.generators import load_generator
    from augment.generators.translation import pair_distances

    entries = []
    for gen in art.generators:
        if (art.configs.get(gen) or {}).get("family") != "translation":
            continue
        entry: dict[str, Any] = {"generator": gen, "error": None, "src": None, "rows": [],
                                 "columns": [], "distances": None}
        entries.append(entry)
        wanted = {str(c) for c, n in (art.requested.get(gen) or {}).items() if n}
        try:
            model = load_generator(art.ws.model(art.dataset, gen))
            classes = [c for c in model.classes_ if not wanted or str(c) in wanted]
            X, y, X_src, y_src = model.sample({c: PAIR_ROWS for c in classes}, seed=0,
                                              return_sources=True)
            entry["distances"] = pair_distances(model, X, y, X_src)
        except AugmentError as err:
            entry["error"] = str(err)
            continue
        shown = np.concatenate([np.arange(i * PAIR_ROWS, i * PAIR_ROWS + PAIRS)
                                for i in range(len(classes))])
        if art.modality == "image":
            entry["src"] = _pair_images(X[shown], y[shown], X_src[shown], y_src[shown],
                                        figs / f"translation_{gen}.png")
        else:
            columns = [c for c in art.ranked if c in X.columns][:MAX_COLUMNS] or list(X.columns)[:MAX_COLUMNS]
            entry["columns"] = [str(c) for c in columns]
            for i in shown.tolist():
                entry["rows"].append(["source", str(y_src[i]), *(_cell(X_src[c].iloc[i]) for c in columns)])
                entry["rows"].append(["translated", str(y[i]), *(_cell(X[c].iloc[i]) for c in columns)])
    return Section("translation", "Translation", {"entries": entries, "per_class": PAIR_ROWS})


def _pair_images(X: np.ndarray, y: np.ndarray, X_src: np.ndarray, y_src: np.ndarray, path: Path
                 ) -> str:
    """A figure of PAIRS source | translated image pairs per row (one row per class)."""
    low, high = float(min(X.min(), X_src.min())), float(max(X.max(), X_src.max()))
    rows = math.ceil(len(X) / PAIRS)
    fig = _figure(1.25 * 2 * PAIRS, 1.5 * rows)
    axes = fig.subplots(rows, 2 * PAIRS, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i in range(len(X)):
        row, k = divmod(i, PAIRS)
        for ax, image, title in ((axes[row, 2 * k], X_src[i], f"source {y_src[i]}"),
                                 (axes[row, 2 * k + 1], X[i], f"-> {y[i]}")):
            ax.imshow(_pixels(image, low, high), cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_title(title, fontsize=7)
    return _save(fig, path)


def _check_cell(check: Check | None, header: str) -> dict[str, Any] | None:
    """One gate check as a cell; `label` is set when the check's own label (with its
    threshold) differs from the column's, i.e. the gate ran with other limits."""
    if check is None:
        return None
    return {"name": check.name, "text": number(check.observed, CHECK_FORMATS.get(check.name, ".3g")),
            "passed": check.passed, "title": f"{check.label}: {check.message}",
            "label": None if check.label == header else check.label}


def _figure_value(report: GateReport, keys: tuple[str, ...], fmt: str) -> str:
    """An informational figure, `report.metric(*keys)`, as text (no verdict)."""
    value = report.metric(*keys)
    text = number(value, fmt)
    covered = report.metric("utility", "tstr_classes_covered")
    if keys[-1] == "tstr_macro_f1" and value is None and covered is not None:
        text += f" ({covered} classes)"
    return text


def _metrics(art: Artifacts) -> Section:
    """The table of the gate's metric checks (as judged by the gate) and other figures."""
    checks: dict[str, str] = {}  # name -> label, in the order the gate reports them
    for report in art.gates.values():
        for check in report.checks:
            if check.name not in GATE_ONLY:
                checks.setdefault(check.name, check.label)
    figures = FIGURES["both"] + FIGURES.get(art.modality, [])
    rows = []
    for gen in art.generators:
        report = art.gates.get(gen)
        row: dict[str, Any] = {"generator": gen, "note": None, "checks": [], "figures": []}
        if report is None:
            row["note"] = "not validated"
        elif not report.metrics:
            skipped = report.check("metrics")
            row["note"] = skipped.message if skipped else "no metrics recorded (see the gate)"
        else:
            row["checks"] = [_check_cell(report.check(name), label) for name, label in checks.items()]
            row["figures"] = [_figure_value(report, keys, fmt) for _, keys, fmt in figures]
        rows.append(row)
    holdout = next((r.holdout for r in art.gates.values() if r.holdout), "validation split")
    return Section("metrics", "Key metrics", {
        "checks": list(checks.values()), "figures": [header for header, _, _ in figures],
        "rows": rows, "holdout": holdout})


def _downstream(art: Artifacts, figs: Path) -> Section:
    result, plot = art.downstream, art.ws.downstream_plot(art.dataset)
    data: dict[str, Any] = {"result": result is not None, "path": art.rel(art.ws.downstream(art.dataset)),
                            "plot": art.rel(plot), "src": None}
    if result is None:
        return Section("downstream", "Downstream comparison", data)
    if plot.is_file():
        shutil.copyfile(plot, figs / "downstream.png")
        data["src"] = _href("downstream.png")
    scores, classifiers = result.get("scores", {}), result.get("classifiers", [])
    delta = result.get("delta_macro_f1", {})  # the evaluate stage's own figure
    gates, published = result.get("gate_passed", {}), set(result.get("published", []))
    rows = []
    for name, per_clf in scores.items():
        cells = []
        for clf in classifiers:
            f1 = per_clf.get(clf, {}).get("macro_f1", {})
            change = delta.get(name, {}).get(clf)
            cells.append({"mean": f1.get("mean"), "sd": f1.get("sd"), "change": change})
        rows.append({"name": name, "published": name in published, "gate": gates.get(name),
                     "cells": cells})
    check = result.get("gate_check", {})
    data |= {"classifiers": classifiers, "rows": rows, "seeds": result.get("seeds", "?"),
             "test_rows": result.get("test_rows", "?"),
             "check": check.get("summary", "no gate check recorded"),
             "harmful": check.get("harmful_generators", []), "stopped": check.get("stopped_by_gate", [])}
    return Section("downstream", "Downstream comparison", data)
