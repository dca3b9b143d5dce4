"""The HTML report, built from small artifacts written with the stages' own writers and
rendered in headless Chromium.

The workspace is made directly (splits by `write_split`, gate verdicts by the gate's
`threshold_checks` and `GateReport.save`, the manifest by `write_augmented`, downstream
scores by `compare`), not by running the pipeline, so these tests check the report
alone and stay fast. Chromium is required, not optional: CI installs it
(`make chromium`). Set REPORT_SCREENSHOT_DIR to keep the rendered pages as PNG files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from augment.data.sources import Dataset, load_dataset
from augment.data.split import limit_per_class, stratified_split
from augment.data.storage import split_filename, write_labelled, write_split
from augment.downstream import compare, plot_scores
from augment.errors import OutputExistsError
from augment.io import atomic_dir, write_json
from augment.publish import combine, write_augmented
from augment.report import build_report
from augment.validate.filter_config import AnomalyConfig, FilterConfig, LabelConfig
from augment.validate.filters import build_filters, filter_sample, fit_filters, summary_payload
from augment.validate.gate import GateConfig, LabelledData, threshold_checks
from augment.validate.verdict import Check, GateReport
from augment.workspace import (
    CURVE_FILE,
    DROPPED_IMAGES,
    DROPPED_TABLE,
    FILTERS_FILE,
    GATE_FILE,
    INFO_FILE,
    MODEL_CONFIG_FILE,
    REQUESTED_FILE,
    SAMPLES_IMAGES,
    SAMPLES_TABLE,
    SCHEMA_FILE,
    Workspace,
)
from pipelines import report as report_stage

GENERATORS = ["vae", "gan", "diffusion"]  # what the report is asked about
# vae: every stage, its gate passes; gan: trained, sampled, its gate fails (repeats, and an
# expectation message holding HTML); diffusion: never ran. Only iris is published.
COMMON = {"summary", "curves", "gate", "filters", "translation", "metrics", "downstream"}
SECTIONS = {"iris": COMMON | {"marginals"}, "digits": COMMON | {"samples"}}
HOSTILE = "<script>alert('gan')</script> & <b>bold</b>"  # must reach the page as text
HTML_COLUMN = "petal <i>width</i> (cm)"  # an iris column renamed: in the pair plot's alt text
DOCS = "gx/uncommitted/data_docs/local_site/index.html"  # inside a gate folder, as GX writes it
CONFIG = GateConfig()
# Marks every <img> with whether it decoded; added to a copy of the page only, the report
# itself has no scripts.
PROBE = ("<script>addEventListener('load', () => { for (const img of document.images) "
         "img.setAttribute('data-loaded', img.complete && img.naturalWidth > 0 ? 'yes' : 'no'); "
         "document.body.setAttribute('data-probed', 'yes'); });</script></body>")


# ---- a workspace written with the stages' writers ---------------------------------------
def prepared(ws: Workspace, name: str, ds: Dataset, per_class: int | None = None) -> dict[str, Dataset]:
    train, val, test = stratified_split(ds, 0.2, 0.2, seed=0)
    if per_class:
        train = limit_per_class(train, per_class, seed=0)
    splits = {"train": train, "val": val, "test": test}
    with atomic_dir(ws.prepared(name), "prepared") as tmp:
        for split, part in splits.items():
            write_split(part, tmp / split_filename(ds, split))
        if ds.schema is not None:
            ds.schema.save(tmp / SCHEMA_FILE)
        write_json(tmp / INFO_FILE, {"name": name, "source": f"builtin:{name}", "modality": ds.modality,
                                     "fingerprint": ds.fingerprint, "classes": ds.classes})
    return splits


def trained(ws: Workspace, name: str, gen: str) -> None:
    """What `Generator.save` leaves that the report reads: config.json and curve.json."""
    folder = ws.model(name, gen)
    folder.mkdir(parents=True)
    write_json(folder / MODEL_CONFIG_FILE, {"family": gen, "params": {"epochs": 2, "batch_size": 32}})
    write_json(folder / CURVE_FILE, [{"epoch": e, "loss": 1.0 / e, "kl": 0.1 * e} for e in (1, 2)])


def sampled(ws: Workspace, name: str, gen: str, train: Dataset, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    X = train.X.copy()
    if train.modality == "table":
        X.iloc[:, :] = X.to_numpy() + rng.normal(0, 0.1, X.shape)
    else:
        X = np.clip(X + rng.normal(0, 1.0, X.shape), X.min(), X.max())
    folder = ws.synthetic(name, gen)
    folder.mkdir(parents=True)
    write_labelled(folder / (SAMPLES_TABLE if train.modality == "table" else SAMPLES_IMAGES), X,
                   train.y, train.target)
    write_json(folder / REQUESTED_FILE, {str(k): v for k, v in train.class_counts().items()})
    return X, train.y


def filtered(ws: Workspace, name: str, gen: str, splits: dict[str, Dataset]) -> dict:
    """filters.json and the dropped rows beside `gen`'s samples, as the sample stage writes
    them: the real memorisation and label filters (no VAE to train) run on 10 exact copies
    of training rows and 20 other real rows. Returns the filters.json payload."""
    train, val, test = splits["train"], splits["val"], splits["test"]
    config = FilterConfig(anomaly=AnomalyConfig(enabled=False), label=LabelConfig(enabled=True))
    filters = fit_filters(build_filters(config), LabelledData(train.X, train.y),
                          LabelledData(val.X, val.y))
    rows = [train.subset(np.arange(10)), test.subset(np.arange(20))]
    X = (pd.concat([r.X for r in rows], ignore_index=True) if train.modality == "table"
         else np.concatenate([r.X for r in rows]))
    y = np.concatenate([r.y for r in rows])
    counts = pd.Series(y).value_counts(sort=False).to_dict()
    _, _, summary, dropped = filter_sample(None, counts, 0, filters, config, first=(X, y))
    payload = summary_payload(summary, dropped, train.X, {"anomaly_model": "none (off)"})
    folder = ws.synthetic(name, gen)
    write_json(folder / FILTERS_FILE, payload)
    write_labelled(folder / (DROPPED_TABLE if train.modality == "table" else DROPPED_IMAGES),
                   dropped[0], dropped[1], train.target)
    return payload


def figures(modality: str, auc: float, duplicates: float, delta: float) -> dict:
    """GateReport.metrics as compute_metrics lays them out (values chosen by the test)."""
    fidelity = ({"ks": {"a": 0.1}, "tv": {}, "ks_mean": 0.1, "tv_mean": None, "correlation_distance": 0.2}
                if modality == "table" else
                {"frechet_distance": 3.5, "precision": 0.8, "recall": 0.7, "coverage": 0.6})
    return {"fidelity": fidelity, "detection_auc": auc,
            "privacy": {"exact_copy_share": 0.0, "duplicate_share": duplicates,
                        "holdout_duplicate_share": 0.01, "dcr_ratio": 0.8},
            "utility": {"tstr_macro_f1": None, "tstr_classes_covered": "2/3", "real_macro_f1": 0.9,
                        "augmented_macro_f1": 0.9 + delta, "augmented_delta": delta,
                        "augmented_delta_low": delta - 0.02, "augmented_delta_high": delta + 0.02,
                        "augmented_delta_sd": 0.012, "confidence": 0.95, "validation_rows": 90,
                        "refits": 5}}


def validated(ws: Workspace, name: str, gen: str, metrics: dict, failures: list[str] = (),
              checks: list[Check] | None = None) -> GateReport:
    """A gate folder as run_gate leaves it: gate.json and a Data Docs page."""
    first = Check("expectations", "Great Expectations suite", len(failures), 0, not failures,
                  "; ".join(failures) or "all 20 expectations passed")
    checks = [first, *(checks if checks is not None else threshold_checks(metrics, CONFIG))]
    report = GateReport(tuple(checks), rows=90, requested={"0": 30}, metrics=metrics, data_docs=DOCS,
                        expectations={"evaluated": 20, "failed": len(failures)}, config=asdict(CONFIG))
    with atomic_dir(ws.gate(name, gen), "gate") as tmp:
        report.save(tmp)
        (tmp / DOCS).parent.mkdir(parents=True)
        (tmp / DOCS).write_text("<!doctype html><title>Data Docs</title>")
    return GateReport.load(ws.gate(name, gen))


def published(ws: Workspace, name: str, train: Dataset, rows: tuple) -> None:
    data = combine(train.X, train.y, {"vae": rows})
    manifest = {"dataset": name, "raw_fingerprint": "f" * 64, "source": f"builtin:{name}",
                "git_revision": "abc123", "generators": ["vae"], "selection": "best of one",
                "parents": {"vae": f"{name}-v1", "gan": None},
                "rows": {"real": len(train), "synthetic": len(rows[1])},
                "params": {"prepare": {"val": 0.2}, "train": {"vae": {"epochs": 2}}}}
    with atomic_dir(ws.published(name), "published") as tmp:
        write_augmented(tmp, data, train.target or "label", manifest)


def evaluated(ws: Workspace, name: str, splits: dict[str, Dataset], synthetic: dict) -> None:
    """metrics/<ds>.json and its plot, as the evaluate stage writes them."""
    train, test = splits["train"], splits["test"]
    sets = {"real_only": (train.X, train.y)}
    for gen, (X, y) in synthetic.items():
        combined = combine(train.X, train.y, {gen: (X, y)})
        sets[gen] = (combined.X, combined.y)
    scores = compare(sets, (test.X, test.y), ["random_forest"], seeds=[0])
    write_json(ws.downstream(name), {
        "dataset": name, "classifiers": ["random_forest"], "seeds": [0], "test_rows": len(test),
        "scores": scores, "published": ["vae"] if name == "iris" else [],
        "gate_passed": {"vae": True, "gan": False},
        "gate_check": {"harmful_generators": ["gan"], "stopped_by_gate": ["gan"],
                       "summary": "1 of 1 generators that lowered test macro-F1 were stopped by the gate"}})
    plot_scores(scores, ws.downstream_plot(name), title=name)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("report"))
    iris = load_dataset("builtin:iris", "target")
    iris = Dataset(**{**iris.__dict__, "X": iris.X.rename(columns={"petal width (cm)": HTML_COLUMN}),
                      "schema": None})
    sources = {"iris": (iris, None), "digits": (load_dataset("builtin:digits"), 30)}
    for name, (ds, per_class) in sources.items():
        splits = prepared(ws, name, ds, per_class)
        synthetic = {}
        for seed, gen in enumerate(("vae", "gan")):
            trained(ws, name, gen)
            synthetic[gen] = sampled(ws, name, gen, splits["train"], seed)
        validated(ws, name, "vae", figures(ds.modality, auc=0.6, duplicates=0.0, delta=0.01))
        validated(ws, name, "gan", figures(ds.modality, auc=0.7, duplicates=0.5, delta=-0.1),
                  failures=[f"expect_column_values_to_be_between failed: {HOSTILE}"])
        if name == "iris":
            published(ws, name, splits["train"], synthetic["vae"])
        evaluated(ws, name, splits, synthetic)
        build_report(ws, name, GENERATORS)
    return ws


# ---- reading the page --------------------------------------------------------------------
def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        if found := shutil.which(name):
            return found
    pytest.fail("headless Chromium is required to render the report but was not found; "
                "install it with `apt-get update && apt-get install -y chromium`")


def chromium(args: list[str], page: Path, profile: Path) -> str:
    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"chromium failed:\n{out.stderr[-2000:]}"
    return out.stdout


class Dom(HTMLParser):
    """Section ids, images, links and table cells of a page, and the text of each section."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.images: list[dict] = []
        self.links: list[dict] = []
        self.cells: list[dict] = []  # <td> and <th> with their section, attributes and text
        self.scripts = 0
        self._open: str | None = None
        self._cell: dict | None = None
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "section":
            self._open = attrs.get("id", "")
            self.sections[self._open] = []
        elif tag == "img":
            self.images.append(attrs | {"section": self._open})
        elif tag == "a":
            self.links.append(attrs | {"section": self._open})
        elif tag == "script":
            self.scripts += 1
        elif tag in ("td", "th"):
            self._cell = attrs | {"tag": tag, "section": self._open, "text": ""}
            self.cells.append(self._cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._open = None
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.sections[self._open].append(data)
        if self._cell is not None:
            self._cell["text"] += data

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.sections[section]).split())


def render(ws: Workspace, dataset: str, tmp_path: Path) -> Dom:
    page = ws.report_page(dataset)
    probe = page.with_name("_probe.html")
    probe.write_text(page.read_text().replace("</body>", PROBE))
    try:
        dom = Dom(chromium(["--dump-dom"], probe, tmp_path / "profile"))
    finally:
        probe.unlink()
    shot = tmp_path / f"{dataset}.png"
    chromium(["--hide-scrollbars", "--window-size=1300,4000", f"--screenshot={shot}"], page,
             tmp_path / "profile")
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (4000, 1300) and pixels.std() > 10, "the screenshot is blank"
    if out := os.environ.get("REPORT_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(out) / f"report_{dataset}.png")
    return dom


def check_common(ws: Workspace, dataset: str, dom: Dom) -> None:
    assert set(dom.sections) == SECTIONS[dataset]
    assert dom.scripts == 1  # the probe's only
    assert dom.images and all(img.get("data-loaded") == "yes" for img in dom.images), dom.images
    folder = ws.report_dir(dataset)
    for img in dom.images:
        assert not img["src"].startswith(("http:", "https:", "/")), img["src"]
        assert (folder / img["src"]).is_file()
    assert not [a for a in dom.links if a["href"].startswith(("http:", "https:"))]
    assert {img["section"] for img in dom.images} >= SECTIONS[dataset] - {
        "summary", "gate", "filters", "translation", "metrics"}  # (no translation model here)
    assert "No translation-family model in this run" in dom.text("translation")

    curves = dom.text("curves")
    assert "No training curve for diffusion: the train stage has not run" in curves
    assert sum(img["section"] == "curves" for img in dom.images) == 2  # vae and gan

    gate = dom.text("gate")
    assert gate.count("PASSED") == 1 and gate.count("FAILED") == 1
    assert gate.count("not validated") == 1  # diffusion
    for failure in GateReport.load(ws.gate(dataset, "gan")).failures:
        assert " ".join(failure.split()) in gate
    docs = [a["href"] for a in dom.links if a["section"] == "gate"]
    assert docs == [f"gates/vae/{DOCS}", f"gates/gan/{DOCS}"]
    assert all((folder / href).is_file() for href in docs)

    downstream = dom.text("downstream")
    scores = json.loads(ws.downstream(dataset).read_text())
    real = scores["scores"]["real_only"]["random_forest"]["macro_f1"]
    assert f"{real['mean']:.3f} ± {real['sd']:.3f}" in downstream
    assert scores["gate_check"]["summary"] in downstream
    assert (ws.gate(dataset, "vae") / GATE_FILE).is_file()  # the validate stage's folder is kept
    assert not list(folder.glob(".*tmp*"))


# ---- tests ---------------------------------------------------------------------------------
def test_table_report(project, tmp_path):
    dom = render(project, "iris", tmp_path)
    check_common(project, "iris", dom)
    summary = dom.text("summary")
    manifest = json.loads(project.manifest("iris").read_text())
    assert "Published generator(s): vae" in summary
    assert "vae started from iris-v1" in summary and "gan started from scratch (cold start)" in summary
    assert manifest["raw_fingerprint"][:16] in summary and manifest["content_hash"][:16] in summary
    assert "train val test vae (requested) gan (requested)" in summary
    marginals = dom.text("marginals")
    assert "4 of 4 columns" in marginals
    assert "No samples from diffusion: the sample stage has not run" in marginals
    assert [i["src"] for i in dom.images if i["section"] == "marginals"] == [
        "figures/marginals.png", "figures/pairs.png"]


def test_image_report(project, tmp_path):
    dom = render(project, "digits", tmp_path)
    check_common(project, "digits", dom)
    assert "Nothing published" in dom.text("summary")
    samples = [i for i in dom.images if i["section"] == "samples"]
    assert len(samples) == 3 * 10  # real, vae and gan for each of the 10 classes
    assert dom.text("samples").count("no samples") == 10  # diffusion


@pytest.mark.parametrize("dataset", ["iris", "digits"])
def test_metric_cells_are_the_gate_checks(project, dataset):
    dom = Dom(project.report_page(dataset).read_text())
    cells = [c for c in dom.cells if c["section"] == "metrics"]
    for gen in ("vae", "gan"):
        report = GateReport.load(project.gate(dataset, gen))
        checks = [c for c in report.checks if c.name not in ("expectations", "metrics")]
        row = cells[[c["text"] for c in cells].index(gen) + 1:][:len(checks)]
        assert [c.get("data-check") for c in row] == [c.name for c in checks]
        assert [c["class"] for c in row] == ["ok" if c.passed else "bad" for c in checks]
        assert [c["title"] for c in row] == [f"{c.label}: {c.message}" for c in checks]
        for label in (c.label for c in checks):
            assert any(c["tag"] == "th" and c["text"] == label for c in cells)
    # gan repeats itself far beyond real data: the gate's duplicate_excess check fails
    gan = [c for c in cells if c.get("data-check") == "duplicate_excess"][1]
    assert gan["class"] == "bad" and gan["text"].startswith("+49.0%")
    assert "– (2/3 classes)" in dom.text("metrics")  # TSTR undefined: not every class sampled


def test_page_follows_the_check_not_a_threshold(tmp_path):
    """A check the gate failed is shown failed even where GateConfig's default would pass it;
    a gate run with other limits shows its own label; skipped metrics show the gate's reason."""
    ws = Workspace(tmp_path)
    metrics = figures("table", auc=0.5, duplicates=0.0, delta=0.0)
    strict = Check("detection_auc", "detection AUC (max 0.4)", 0.5, 0.4, False,
                   "a classifier tells synthetic from real with AUC 0.500 (max 0.4)")
    lenient = Check("detection_auc", "detection AUC (max 1.0)", 0.5, 1.0, True, "AUC 0.500 (max 1.0)")
    validated(ws, "iris", "vae", metrics, checks=[strict])
    validated(ws, "iris", "gan", metrics, checks=[lenient])
    skipped = Check("metrics", "metrics computed", None, None, False,
                    "metrics skipped: the synthetic table's columns or types do not match")
    validated(ws, "iris", "diffusion", {}, checks=[skipped])
    dom = Dom(build_report(ws, "iris", GENERATORS).read_text())
    vae, gan = [c for c in dom.cells if c.get("data-check")]
    assert (vae["data-check"], vae["class"], vae["text"]) == ("detection_auc", "bad", "0.500 ✗")
    assert (gan["class"], gan["text"]) == ("ok", "0.500 ✓detection AUC (max 1.0)")
    assert [c["text"] for c in dom.cells if c["tag"] == "th" and "AUC" in c["text"]] == [
        "detection AUC (max 0.4)"]
    assert skipped.message in dom.text("metrics")
    assert "FAILED" in dom.text("gate")


def test_html_in_artifacts_is_escaped(project):
    markup = project.report_page("iris").read_text()
    assert "<script" not in markup and "<b>bold" not in markup and "<i>width" not in markup
    dom = Dom(markup)
    assert dom.scripts == 0
    assert HOSTILE in dom.text("gate")  # the failure message, as text
    pairs = [i for i in dom.images if i["src"] == "figures/pairs.png"]
    assert HTML_COLUMN in pairs[0]["alt"]


def test_report_before_any_stage(tmp_path):
    ws = Workspace(tmp_path)
    ws.params_file.write_text(yaml.safe_dump({"pipeline": {"datasets": ["iris"], "generators": ["vae"]}}))
    assert report_stage.main(["--dataset", "iris", "--workspace", str(tmp_path)]) == 0
    dom = Dom(ws.report_page("iris").read_text())
    assert set(dom.sections) == SECTIONS["iris"]
    assert "The per-row filters were off" in dom.text("filters")
    assert "No prepared splits under data/prepared/iris: the prepare stage has not run" in dom.text("summary")
    assert "the evaluate stage has not run" in dom.text("downstream")
    assert "not validated" in dom.text("gate") and "not validated" in dom.text("metrics")


def test_unreadable_gate_report_is_named(tmp_path):
    ws = Workspace(tmp_path)
    ws.gate("iris", "vae").mkdir(parents=True)
    (ws.gate("iris", "vae") / GATE_FILE).write_text("{}")
    dom = Dom(build_report(ws, "iris", ["vae"]).read_text())
    assert "unreadable" in dom.text("gate") and "is not a gate report" in dom.text("gate")


def test_foreign_figures_folder_is_refused(tmp_path):
    ws = Workspace(tmp_path)
    ws.report_figures("iris").mkdir(parents=True)
    (ws.report_figures("iris") / "mine.png").write_bytes(b"not ours")
    with pytest.raises(OutputExistsError):
        build_report(ws, "iris", ["vae"])
    assert (ws.report_figures("iris") / "mine.png").is_file() and not ws.report_page("iris").exists()


def test_report_needs_valid_params(tmp_path, capsys):
    Workspace(tmp_path).params_file.write_text(yaml.safe_dump({"pipeline": {"datasets": ["iris"]}}))
    assert report_stage.main(["--dataset", "iris", "--workspace", str(tmp_path)]) == 2
    assert "generators" in capsys.readouterr().err


# ---- the filters section (no Chromium) ----------------------------------------------------
def filter_workspace(tmp_path: Path, name: str, per_class: int | None = None) -> tuple:
    """A workspace where vae's samples were filtered and gan's were not."""
    ws = Workspace(tmp_path)
    splits = prepared(ws, name, load_dataset(f"builtin:{name}", "target" if name == "iris" else None),
                      per_class)
    for seed, gen in enumerate(("vae", "gan")):
        sampled(ws, name, gen, splits["train"], seed)
    return ws, splits, filtered(ws, name, "vae", splits)


def check_filter_table(dom: Dom, payload: dict) -> None:
    """The filters section names each filter with its threshold, pass rate and share."""
    text = dom.text("filters")
    for name, f in payload["filters"].items():
        row = [c["text"] for c in dom.cells if c["section"] == "filters"]
        at = row.index(name)
        assert row[at + 1:at + 4] == [format(f["threshold"], ".4g"), format(f["holdout_pass"], ".1%"),
                                      format(f["share_all"], ".1%")]
    drawn, lost = sum(payload["drawn"].values()), sum(payload["dropped"].values())
    assert f"{lost} of {drawn} rows drawn were dropped ({lost / drawn:.1%}) in 0 refill round(s)" in text
    assert "No filters.json for gan, diffusion (not sampled): the filters were off" in text


def test_filters_section_table(tmp_path):
    ws, splits, payload = filter_workspace(tmp_path, "iris")
    assert set(payload["filters"]) == {"memorisation", "label"}
    dom = Dom(build_report(ws, "iris", GENERATORS).read_text())
    assert set(dom.sections) == SECTIONS["iris"]
    check_filter_table(dom, payload)
    text = dom.text("filters")
    assert "Worst rows the memorisation filter dropped, beside their nearest real training rows" in text
    # each exact copy sits above the real row it copies: the same values, score -1
    cells = [c["text"] for c in dom.cells if c["section"] == "filters"]
    columns = len(splits["train"].X.columns)
    for entry in payload["worst"]["memorisation"]:
        assert entry["score"] == -1.0
        at = cells.index(f"nearest real (train row {entry['nearest_train_row']})")
        dropped, real = cells[at - 3 - columns:at], cells[at:at + 3 + columns]
        assert dropped[:3] == ["dropped", real[1], "-1"] and dropped[3:] == real[3:]


def test_filters_section_images(tmp_path):
    ws, _, payload = filter_workspace(tmp_path, "digits", per_class=10)
    dom = Dom(build_report(ws, "digits", GENERATORS).read_text())
    check_filter_table(dom, payload)
    images = [img for img in dom.images if img["section"] == "filters"]
    assert [img["src"] for img in images] == ["figures/filters_vae.png"]
    assert (ws.report_dir("digits") / images[0]["src"]).read_bytes()[:4] == b"\x89PNG"


def test_unreadable_filter_summary_is_named(tmp_path):
    ws = Workspace(tmp_path)
    for gen, text in (("vae", "{not json"), ("gan", json.dumps({"filters": {"anomaly": 3}}))):
        ws.synthetic("iris", gen).mkdir(parents=True)
        ws.filters("iris", gen).write_text(text)
    dom = Dom(build_report(ws, "iris", ["vae", "gan"]).read_text())
    text = dom.text("filters")
    assert f"Unreadable: cannot read the filter summary {ws.filters('iris', 'vae')}" in text
    assert "Unreadable: data/synthetic/iris/gan/filters.json is not a filter summary" in text


@pytest.mark.parametrize("name", ["iris", "digits"])
def test_translation_section_shows_pairs_and_distances(tmp_path, name):
    from augment.generators import get_generator

    ws = Workspace(tmp_path)
    ds = load_dataset("builtin:iris", "target") if name == "iris" else load_dataset("builtin:digits")
    splits = prepared(ws, name, ds, per_class=20)
    train = splits["train"]
    model = get_generator("translation", epochs=1, min_steps=0, batch_size=16, width=32,
                          channels=8, progress="never").fit(train.X, train.y)
    model.save(ws.model(name, "translation"))
    sampled(ws, name, "translation", train, seed=0)
    dom = Dom(build_report(ws, name, ["translation"]).read_text())
    text = dom.text("translation")
    assert "pairs it draws for this page" in text
    cells = [c["text"] for c in dom.cells if c["section"] == "translation"]
    shares = [c for c in cells if c.endswith("%")]
    assert len(shares) == 2 and all(0 <= float(c[:-1]) <= 100 for c in shares)
    if name == "iris":  # a source row above each translated row, PAIRS per class
        assert cells.count("source") == cells.count("translated") == 4 * len(train.classes)
    else:
        images = [i["src"] for i in dom.images if i["section"] == "translation"]
        assert images == ["figures/translation_translation.png"]
