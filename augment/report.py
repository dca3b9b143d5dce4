"""The visual report of one dataset: a static HTML page with PNG figures.

`build_report` reads what the pipeline stages left (prepared splits, training curves,
synthetic samples, gate reports, the published manifest, the downstream comparison) and
writes <site>/index.html plus <site>/figures/*.png (<site> is the dataset's reports folder
unless told otherwise). The page is plain HTML with inline CSS: no scripts, no network
resources, so it opens from disk or as a CI artifact.
Anything a stage did not produce is named on the page instead of failing the build.

Sections (stable ids): summary, samples (images) or marginals (tables), curves, gate,
metrics, downstream.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from augment.data.sources import Dataset
from augment.data.storage import read_split
from augment.io import atomic_dir, atomic_file
from augment.validate.gate import GateConfig

MAX_COLUMNS = 12  # marginal plots shown for a table; the rest are named only
PER_CLASS = 8  # real and synthetic images shown per class and source
REAL_COLOUR = "0.55"


@dataclass(frozen=True)
class ReportSources:
    """Where one dataset's artifacts live (the pipeline layout, see pipelines/common.py)."""

    dataset: str
    generators: list[str]
    prepared: Path  # {train,val,test}.parquet|npz, info.json
    models: Path  # <gen>/curve.json, <gen>/config.json
    synthetic: Path  # <gen>/samples.parquet|npz, <gen>/requested.json
    reports: Path  # <gen>/summary.json, metrics.json; the page is written here
    published: Path  # manifest.json
    downstream: Path  # metrics/<ds>.json of the evaluate stage
    downstream_plot: Path
    gate: GateConfig = field(default_factory=GateConfig)  # limits to mark failing metrics
    out: Path | None = None  # where index.html and figures/ go; default: `reports`

    @property
    def site(self) -> Path:
        return self.out or self.reports


@dataclass
class Artifacts:
    """Everything found on disk; a missing artifact is simply absent from its dict."""

    info: dict | None
    splits: dict[str, Dataset]
    synthetic: dict[str, Dataset]
    requested: dict[str, dict]
    curves: dict[str, list]
    configs: dict[str, dict]
    summaries: dict[str, dict]
    metrics: dict[str, dict]
    manifest: dict | None
    downstream: dict | None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _split(folder: Path, stem: str) -> Dataset | None:
    for suffix in (".parquet", ".npz"):
        if (folder / f"{stem}{suffix}").is_file():
            return read_split(folder / f"{stem}{suffix}")
    return None


def load_artifacts(src: ReportSources) -> Artifacts:
    splits = {name: ds for name in ("train", "val", "test")
              if (ds := _split(src.prepared, name)) is not None}
    found: dict[str, dict] = {k: {} for k in ("synthetic", "requested", "curves", "configs",
                                              "summaries", "metrics")}
    for gen in src.generators:
        files = {"requested": src.synthetic / gen / "requested.json",
                 "curves": src.models / gen / "curve.json", "configs": src.models / gen / "config.json",
                 "summaries": src.reports / gen / "summary.json",
                 "metrics": src.reports / gen / "metrics.json"}
        for key, path in files.items():
            if (payload := _json(path)) is not None:
                found[key][gen] = payload
        if (samples := _split(src.synthetic / gen, "samples")) is not None:
            found["synthetic"][gen] = samples
    return Artifacts(info=_json(src.prepared / "info.json"), splits=splits, **found,
                     manifest=_json(src.published / "manifest.json"), downstream=_json(src.downstream))


def build_report(src: ReportSources) -> Path:
    """Write <site>/figures/ and <site>/index.html atomically; returns the page."""
    art = load_artifacts(src)
    train = art.splits.get("train")
    modality = train.modality if train else (art.info or {}).get("modality", "unknown")
    with atomic_dir(src.site / "figures") as figs:
        data_section = (_samples(src, art, figs) if modality == "image" else _marginals(src, art, figs))
        sections = [_summary(src, art, modality), data_section, _curves(src, art, figs),
                    _gate(src, art), _metrics(src, art, modality), _downstream(src, art, figs)]
    page = _page(src.dataset, sections)
    with atomic_file(src.site / "index.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return src.site / "index.html"


# ---- figures (matplotlib Agg canvases, no pyplot state) ---------------------------------
def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path, top: float = 1.0) -> str:
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=90, format="png")
    return f"figures/{path.name}"


def _colour(src: ReportSources, gen: str) -> str:
    return f"C{src.generators.index(gen) % 10}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text))


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


def _histogram(ax, real: pd.Series, synth: dict[str, pd.Series], src: ReportSources) -> None:
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
                    color=_colour(src, gen), label=gen)


def _bars(ax, real: pd.Series, synth: dict[str, pd.Series], src: ReportSources, top: int = 8) -> None:
    def labels(series: pd.Series) -> pd.Series:
        return series.astype(object).where(series.notna(), "(missing)").astype(str)

    categories = labels(real).value_counts().index[:top].tolist()
    sources = {"real": real, **synth}
    width = 0.8 / len(sources)
    for i, (name, series) in enumerate(sources.items()):
        shares = labels(series).value_counts(normalize=True)
        heights = [float(shares.get(c, 0.0)) for c in categories]
        heights.append(max(0.0, 1.0 - sum(heights)))
        colour = REAL_COLOUR if name == "real" else _colour(src, name)
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


# ---- sections --------------------------------------------------------------------------
def _section(id_: str, title: str, body: str) -> str:
    return f'<section id="{id_}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


def _missing(text: str) -> str:
    return f'<p class="missing">{escape(text)}</p>'


def _img(href: str, alt: str, cls: str = "figure") -> str:
    return f'<img class="{cls}" src="{escape(href)}" alt="{escape(alt)}">'


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    """Cells are HTML already (escape text before)."""
    head = "<thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "\n".join("<tr>" + "".join(c if c.startswith(("<td", "<th")) else f"<td>{c}</td>" for c in row)
                     + "</tr>" for row in rows)
    return f'<table class="{cls}">{head}\n<tbody>{body}</tbody></table>'


def _summary(src: ReportSources, art: Artifacts, modality: str) -> str:
    info = art.info or {}
    facts = [("dataset", src.dataset), ("modality", modality), ("source", info.get("source", "?")),
             ("raw fingerprint", str(info.get("fingerprint", "?"))[:16])]
    train = art.splits.get("train")
    if train is not None:
        shape = train.X.shape[1:] if modality == "image" else (train.X.shape[1],)
        facts += [("target", train.target or "label"),
                  ("features", " x ".join(map(str, shape)) + (" pixels" if modality == "image" else
                                                              " columns"))]
    parts = [_table([], [[f"<th>{escape(k)}</th>", escape(str(v))] for k, v in facts], "facts")]
    if art.splits:
        classes = list(dict.fromkeys(str(c) for ds in art.splits.values() for c in ds.classes))
        counts = {n: {str(k): v for k, v in ds.class_counts().items()} for n, ds in art.splits.items()}
        gens = [g for g in src.generators if g in art.requested]
        header = ["class", *art.splits, *(f"{escape(g)} (requested)" for g in gens)]
        rows = [[escape(c), *(str(counts[n].get(c, 0)) for n in art.splits),
                 *(str(art.requested[g].get(c, 0)) for g in gens)] for c in classes]
        rows.append(["<b>all</b>", *(f"<b>{len(ds)}</b>" for ds in art.splits.values()),
                     *(f"<b>{sum(art.requested[g].values())}</b>" for g in gens)])
        parts += ["<h3>Rows per split and class</h3>", _table(header, rows, "numbers")]
    else:
        parts.append(_missing(f"No prepared splits under {src.prepared}: the prepare stage has not run."))
    parts += ["<h3>Published</h3>", _published(src, art.manifest)]
    return _section("summary", f"Summary: {src.dataset}", "\n".join(parts))


def _published(src: ReportSources, manifest: dict | None) -> str:
    if manifest is None:
        return _missing(f"Nothing published ({src.published / 'manifest.json'} is absent): no "
                        "generator passed its gate, or the publish stage has not run.")
    gens = ", ".join(manifest.get("generators", [])) or "none"
    rows = manifest.get("rows", {})
    train_params = (manifest.get("params") or {}).get("train", {})
    lineage = [
        ("raw data", f"{manifest.get('source', '?')} (fingerprint "
                     f"{str(manifest.get('raw_fingerprint', '?'))[:16]})"),
        ("prepared with", json.dumps((manifest.get("params") or {}).get("prepare"))),
        ("generators", "; ".join(f"{g} {json.dumps(train_params.get(g, {}))}"
                                 for g in manifest.get("generators", []))),
        ("code revision", manifest.get("git_revision", "?")),
        ("published data", f"{manifest.get('data_file', '?')} (content "
                           f"{str(manifest.get('content_hash', '?'))[:16]})"),
    ]
    return (f'<p class="pass">Published generator(s): <b>{escape(gens)}</b>, '
            f"{rows.get('real', '?')} real + {rows.get('synthetic', '?')} synthetic rows. "
            f"Selection: {escape(str(manifest.get('selection', '?')))}.</p>\n<h3>Version lineage</h3>\n"
            + _table(["step", "record"], [[escape(k), f"<code>{escape(str(v))}</code>"]
                                          for k, v in lineage], "facts")
            + "\n<p>A version tag (<code>&lt;dataset&gt;-vN</code>) is made by "
              "<code>augment publish</code>.</p>")


def _samples(src: ReportSources, art: Artifacts, figs: Path) -> str:
    from augment.plots import image_grid

    train = art.splits.get("train")
    if train is None:
        return _section("samples", "Samples", _missing("No prepared training split to show."))
    low, high = float(np.min(train.X)), float(np.max(train.X))
    high = high if high > low else low + 1.0
    scale = max(1, round(36 / train.X.shape[-1]))  # 8x8 digits 4x, 28x28 images 1x
    rng = np.random.default_rng(0)

    def cell(images: np.ndarray, name: str, alt: str) -> str:
        if len(images) == 0:
            return '<td class="missing">none</td>'
        chosen = images[np.sort(rng.choice(len(images), min(len(images), PER_CLASS), replace=False))]
        image_grid(chosen, figs / name, low, high, columns=PER_CLASS // 2, scale=scale)
        return f"<td>{_img(f'figures/{name}', alt, 'pixels')}</td>"

    rows = []
    for i, label in enumerate(train.classes):
        row = [f"<th>{escape(str(label))}</th>",
               cell(train.X[_labels_equal(train.y, label)], f"samples_{i}_real.png", f"real {label}")]
        for gen in src.generators:
            syn = art.synthetic.get(gen)
            row.append('<td class="missing">no samples</td>' if syn is None else
                       cell(syn.X[_labels_equal(syn.y, label)], f"samples_{i}_{_slug(gen)}.png",
                            f"{gen} {label}"))
        rows.append(row)
    absent = [g for g in src.generators if g not in art.synthetic]
    note = _missing(f"No samples from {', '.join(absent)}: the sample stage has not run.") if absent else ""
    header = ["class", "real (train)", *(escape(g) for g in src.generators)]
    intro = (f"<p>Up to {PER_CLASS} random images per class: real training images beside each "
             "generator's synthetic ones.</p>")
    return _section("samples", "Samples per class", intro + note + _table(header, rows, "samples"))


def _marginals(src: ReportSources, art: Artifacts, figs: Path) -> str:
    train = art.splits.get("train")
    if train is None or train.modality != "table":
        return _section("marginals", "Marginals", _missing("No prepared training table to compare with."))
    ranked = ranked_columns(train.X, train.y)
    shown = ranked[:MAX_COLUMNS]
    synth = {g: ds.X for g, ds in art.synthetic.items()}
    ncols = min(4, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    fig = _figure(3.4 * ncols, 2.5 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, shown, strict=False):
        columns = {g: X[name] for g, X in synth.items() if name in X.columns}
        draw = _histogram if _is_numeric(train.X[name]) else _bars
        draw(ax, train.X[name], columns, src)
        ax.set_title(str(name)[:40], fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    _legend(fig, axes)
    parts = [f"<p>Real training rows (grey) against each generator's rows; {len(shown)} of "
             f"{len(ranked)} columns, ranked by mutual information with the label.</p>",
             _img(_save(fig, figs / "marginals.png", top=1 - 0.4 / fig.get_figheight()),
                  "marginal distributions, real vs synthetic")]
    if len(ranked) > len(shown):
        parts.append(f"<p>Not shown: {escape(', '.join(map(str, ranked[len(shown):])))}.</p>")
    absent = [g for g in src.generators if g not in art.synthetic]
    if absent:
        parts.append(_missing(f"No samples from {', '.join(absent)}: the sample stage has not run."))
    numeric = [c for c in ranked if _is_numeric(train.X[c])][:2]
    parts.append("<h3>Pair plot of the two most informative numeric columns</h3>")
    if len(numeric) < 2:
        parts.append(_missing("The table has fewer than two numeric columns."))
    else:
        parts.append(_img(_pair_plot(src, train.X, synth, numeric, figs / "pairs.png"),
                          f"pair plot of {numeric[0]} and {numeric[1]}"))
    return _section("marginals", "Marginal distributions", "\n".join(parts))


def _pair_plot(src: ReportSources, real: pd.DataFrame, synth: dict[str, pd.DataFrame], cols: list[str],
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
            ax.scatter(sx, sy, s=6, color=_colour(src, gen), alpha=0.6, label=gen)
        ax.set_title(f"real vs {gen}", fontsize=9)
        ax.set_xlabel(str(cols[0])[:40], fontsize=8)
        ax.set_ylabel(str(cols[1])[:40], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, markerscale=2)
    return _save(fig, path)


def _curves(src: ReportSources, art: Artifacts, figs: Path) -> str:
    parts = []
    for gen in src.generators:
        curve = art.curves.get(gen)
        parts.append(f"<h3>{escape(gen)}</h3>")
        params = (art.configs.get(gen) or {}).get("params")
        if params is not None:
            parts.append(f"<p>Hyperparameters: <code>{escape(json.dumps(params))}</code></p>")
        if not curve:
            parts.append(_missing(f"No training curve for {gen}: the train stage has not run."))
            continue
        keys = list(dict.fromkeys(k for record in curve for k in record if k != "epoch"))
        ncols = min(4, len(keys)) or 1
        fig = _figure(3.0 * ncols, 2.3 * math.ceil(len(keys) / ncols))
        axes = fig.subplots(math.ceil(len(keys) / ncols), ncols, squeeze=False).ravel()
        for ax, key in zip(axes, keys, strict=False):
            pairs = [(r["epoch"], r[key]) for r in curve if isinstance(r.get(key), int | float)]
            ax.plot(*zip(*pairs, strict=True), marker="o" if len(pairs) <= 30 else None, ms=3,
                    color=_colour(src, gen))
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes[len(keys):]:
            ax.set_visible(False)
        parts.append(_img(_save(fig, figs / f"curve_{_slug(gen)}.png"), f"training curve of {gen}"))
    return _section("curves", "Training curves", "\n".join(parts))


def _docs_href(src: ReportSources, gen: str, data_docs: str | None) -> str | None:
    """Relative link from the page to a generator's GX Data Docs, if they exist."""
    candidates = [Path(data_docs)] if data_docs else []
    candidates += sorted((src.reports / gen).glob("gx/**/data_docs/**/index.html"))
    for path in candidates:
        if path.is_file():
            rel = os.path.relpath(path.resolve(), src.site.resolve())
            return quote(Path(rel).as_posix())
    return None


def _gate(src: ReportSources, art: Artifacts) -> str:
    rows, details = [], []
    for gen in src.generators:
        summary = art.summaries.get(gen)
        if summary is None:
            rows.append([escape(gen), '<td class="missing">not validated</td>', "", "",
                         '<td class="missing">the validate stage has not run</td>'])
            continue
        passed = bool(summary.get("passed"))
        verdict = '<td class="pass">PASSED</td>' if passed else '<td class="fail">FAILED</td>'
        checks = summary.get("expectations", {})
        href = _docs_href(src, gen, summary.get("data_docs"))
        link = f'<a href="{escape(href)}">Data Docs</a>' if href else "Data Docs missing"
        rows.append([escape(gen), verdict, str(summary.get("rows", "?")),
                     f"{checks.get('failed', '?')} of {checks.get('evaluated', '?')}", link])
        if failures := summary.get("failures"):
            items = [f"<li>{escape(str(line))}</li>" for line in failures]
            rest = (f"<details><summary>{len(items) - 5} more</summary><ul>{''.join(items[5:])}</ul>"
                    "</details>" if len(items) > 6 else "")
            shown = items if not rest else items[:5]
            details.append(f"<h3>{escape(gen)}: {len(failures)} failure(s)</h3>"
                           f"<ul>{''.join(shown)}</ul>{rest}")
    header = ["generator", "gate", "synthetic rows", "expectations failed", "report"]
    return _section("gate", "Validation gate", _table(header, rows) + "\n" + "\n".join(details))


def _number(value: Any, fmt: str) -> str:
    if isinstance(value, str):  # non-finite figures are stored as text, e.g. "inf"
        return escape(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return format(value, fmt)


def _metrics(src: ReportSources, art: Artifacts, modality: str) -> str:
    g = src.gate
    # (header, path in metrics.json, format, test of a failing value)
    columns: list[tuple[str, tuple[str, ...], str, Any]] = [
        (f"detection AUC (max {g.max_detection_auc})", ("detection_auc",), ".3f",
         lambda v: v > g.max_detection_auc),
        (f"exact copies (max {g.max_exact_copy_share:.0%})", ("privacy", "exact_copy_share"), ".1%",
         lambda v: v > g.max_exact_copy_share),
        (f"DCR ratio (min {g.min_dcr_ratio})", ("privacy", "dcr_ratio"), ".2f",
         lambda v: v < g.min_dcr_ratio),
        ("TSTR macro-F1", ("utility", "tstr_macro_f1"), ".3f", None),
        ("val macro-F1 real", ("utility", "real_macro_f1"), ".3f", None),
        ("val macro-F1 augmented", ("utility", "augmented_macro_f1"), ".3f", None),
        (f"change (min -{g.utility_tolerance})", ("utility", "augmented_delta"), "+.3f",
         lambda v: v < -g.utility_tolerance),
    ]
    if modality == "image":
        columns += [("Fr&eacute;chet distance", ("fidelity", "frechet_distance"), ".3f", None),
                    ("precision", ("fidelity", "precision"), ".3f", None),
                    ("recall", ("fidelity", "recall"), ".3f", None),
                    ("coverage", ("fidelity", "coverage"), ".3f", None)]
    else:
        columns += [("KS mean", ("fidelity", "ks_mean"), ".3f", None),
                    ("TV mean", ("fidelity", "tv_mean"), ".3f", None),
                    ("correlation distance", ("fidelity", "correlation_distance"), ".3f", None)]
    rows = []
    for gen in src.generators:
        figures = art.metrics.get(gen)
        if not figures:
            why = "not validated" if gen not in art.summaries else "metrics skipped (see the gate)"
            rows.append([escape(gen), f'<td class="missing" colspan="{len(columns)}">{why}</td>'])
            continue
        row = [escape(gen)]
        for _, path, fmt, fails in columns:
            value: Any = figures
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if path[-1] in ("ks_mean", "tv_mean") and not figures["fidelity"].get(path[-1][:2]):
                value = None  # a mean over no columns of that kind
            bad = fails is not None and isinstance(value, int | float) and fails(value)
            row.append(f'<td class="bad">{_number(value, fmt)}</td>' if bad else _number(value, fmt))
        rows.append(row)
    note = ("<p>Figures from the validate stage, on the validation split. Red cells break a "
            "limit of the gate. TSTR: a classifier trained on synthetic rows only (&ndash; when "
            "the synthetic rows do not cover every class, e.g. under the balance policy).</p>")
    return _section("metrics", "Key metrics", note + _table(["generator", *(c[0] for c in columns)], rows,
                                                            "numbers"))


def _downstream(src: ReportSources, art: Artifacts, figs: Path) -> str:
    result = art.downstream
    if result is None:
        return _section("downstream", "Downstream comparison",
                        _missing(f"No downstream results ({src.downstream} is absent): the evaluate "
                                 "stage has not run."))
    parts = []
    if src.downstream_plot.is_file():
        shutil.copyfile(src.downstream_plot, figs / "downstream.png")
        parts.append(_img("figures/downstream.png", "downstream macro-F1 by training set"))
    else:
        parts.append(_missing(f"The plot {src.downstream_plot} is missing."))
    scores, classifiers = result.get("scores", {}), result.get("classifiers", [])
    base = scores.get("real_only", {})
    gates, published = result.get("gate_passed", {}), set(result.get("published", []))
    rows = []
    for name, per_clf in scores.items():
        label = escape(name) + (" (published)" if name in published else "")
        if name in gates:
            verdict = ("pass", "passed") if gates[name] else ("fail", "failed")
            label += ' <span class="{}">{}</span>'.format(*verdict)
        row = [label]
        for clf in classifiers:
            f1 = per_clf.get(clf, {}).get("macro_f1", {})
            cell = f"{_number(f1.get('mean'), '.3f')} &plusmn; {_number(f1.get('sd'), '.3f')}"
            if name != "real_only" and clf in base and f1:
                change = f1["mean"] - base[clf]["macro_f1"]["mean"]
                cls = "bad" if change < 0 else "good"
                cell += f' <span class="{cls}">({change:+.3f})</span>'
            row.append(cell)
        rows.append(row)
    check = result.get("gate_check", {})
    parts += [f"<p>Test macro-F1, mean &plusmn; sd over seeds {escape(str(result.get('seeds', '?')))} "
              f"on {result.get('test_rows', '?')} real test rows; in brackets the change against "
              "real-only training.</p>",
              _table(["training set", *(escape(c) for c in classifiers)], rows, "numbers"),
              "<h3>Did the gate stop the harmful generators?</h3>",
              f"<p>{escape(str(check.get('summary', 'no gate check recorded')))}"
              f" (harmful: {escape(', '.join(check.get('harmful_generators', [])) or 'none')}; "
              f"stopped: {escape(', '.join(check.get('stopped_by_gate', [])) or 'none')}).</p>"]
    return _section("downstream", "Downstream comparison", "\n".join(parts))


CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 0 auto; max-width: 1250px;
       padding: 0 1.2em 2em; }
header { border-bottom: 2px solid #ddd; margin-bottom: 1em; }
nav a { margin-right: 1.2em; }
section { margin: 1.5em 0 2.5em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; }
table.numbers td { text-align: right; font-variant-numeric: tabular-nums; }
table.numbers td:first-child, table.numbers td.missing { text-align: left; }
table.facts th { background: #f8f8f8; }
table.samples td { padding: 4px; background: #111; }
.pass, td.pass { color: #17692c; font-weight: 600; }
.fail, td.fail { color: #b3261e; font-weight: 600; }
td.bad, .bad { color: #b3261e; }
td.bad { background: #fde8e6; }
.good { color: #17692c; }
.missing, td.missing, table.samples td.missing { color: #777; font-style: italic; background: #fff; }
img.figure { max-width: 100%; height: auto; display: block; margin: .5em 0; }
img.pixels { image-rendering: pixelated; display: block; }
code { font-size: 12px; background: #f5f5f5; padding: 0 .2em; word-break: break-all; }
li { margin: .2em 0; }
"""


def _page(dataset: str, sections: list[str]) -> str:
    ids = re.findall(r'<section id="([^"]+)">\n<h2>([^<]*)</h2>', "\n".join(sections))
    nav = " ".join(f'<a href="#{i}">{t.split(":")[0]}</a>' for i, t in ids)
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>augment report: {escape(dataset)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header><h1>Augmentation report: {escape(dataset)}</h1>\n<nav>{nav}</nav></header>\n"
            + "\n".join(sections)
            + "\n<footer><p>Built by <code>python -m pipelines.report</code> from the pipeline "
              "artifacts.</p></footer>\n</body>\n</html>\n")
