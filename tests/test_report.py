"""The HTML report, built from tiny real pipeline artifacts and rendered in headless Chromium.

Chromium is required, not optional: CI installs it (`apt-get install -y chromium`).
Set REPORT_SCREENSHOT_DIR to keep the rendered pages as PNG files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import tiny_pipeline

from augment.errors import AugmentError
from augment.report import build_report
from pipelines import report as report_stage
from pipelines.evaluate import evaluate
from pipelines.prepare import prepare
from pipelines.publish import publish
from pipelines.sample import sample
from pipelines.train import train
from pipelines.validate import validate

GENERATORS = ["vae", "gan", "diffusion"]  # what the report is asked about
DATASETS = {"iris": {"source": "builtin:iris", "target": "target"},
            "digits": {"source": "builtin:digits", "per_class": 30}}
# vae runs every stage; gan is only trained; diffusion never runs
PARAMS = tiny_pipeline(DATASETS, ["vae", "gan"], batch_size=32) | {
    "pipeline": {"datasets": list(DATASETS), "generators": ["vae"]}}
SECTIONS = {"iris": {"summary", "marginals", "curves", "gate", "metrics", "downstream"},
            "digits": {"summary", "samples", "curves", "gate", "metrics", "downstream"}}
# Marks every <img> with whether it decoded; added to a copy of the page only, the report
# itself has no scripts.
PROBE = ("<script>addEventListener('load', () => { for (const img of document.images) "
         "img.setAttribute('data-loaded', img.complete && img.naturalWidth > 0 ? 'yes' : 'no'); "
         "document.body.setAttribute('data-probed', 'yes'); });</script></body>")


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
    """Section ids, images and links of a rendered page, and the text of each section."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.images: list[dict] = []
        self.links: list[dict] = []
        self.scripts = 0
        self._open: str | None = None
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

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.sections[self._open].append(data)

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.sections[section]).split())


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A workspace where iris ran every stage with vae (gan: trained only), digits ran up to
    validate with vae (gan: trained only, nothing published); diffusion never ran."""
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for dataset in ("iris", "digits"):
            prepare(dataset, PARAMS)
            for gen in ("vae", "gan"):
                train(dataset, gen, PARAMS)
            sample(dataset, "vae", PARAMS)
            validate(dataset, "vae", PARAMS)
            if dataset == "iris":
                publish(dataset, PARAMS)
            evaluate(dataset, PARAMS)
        params = PARAMS | {"pipeline": {"datasets": ["iris", "digits"], "generators": GENERATORS}}
        Path("params.yaml").write_text(yaml.safe_dump(params))
        for dataset in ("iris", "digits"):
            assert report_stage.main(["--dataset", dataset]) == 0
        yield root


def render(root: Path, dataset: str, tmp_path: Path) -> Dom:
    page = root / "reports" / dataset / "index.html"
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


def check_common(root: Path, dataset: str, dom: Dom) -> None:
    assert set(dom.sections) == SECTIONS[dataset]
    assert dom.scripts == 1  # the probe's only
    assert dom.images and all(img.get("data-loaded") == "yes" for img in dom.images), dom.images
    folder = root / "reports" / dataset
    for img in dom.images:
        assert not img["src"].startswith(("http:", "https:", "/")), img["src"]
        assert (folder / img["src"]).is_file()
    assert not [a for a in dom.links if a["href"].startswith(("http:", "https:"))]
    assert {img["section"] for img in dom.images} >= SECTIONS[dataset] - {"summary", "gate", "metrics"}

    curves = dom.text("curves")
    assert "No training curve for diffusion: the train stage has not run" in curves
    assert sum(img["section"] == "curves" for img in dom.images) == 2  # vae and gan

    gate = dom.text("gate")
    summary = json.loads((folder / "gates" / "vae" / "summary.json").read_text())
    assert ("PASSED" if summary["passed"] else "FAILED") in gate
    assert gate.count("not validated") == 2  # gan and diffusion
    for failure in summary["failures"]:
        assert " ".join(failure.split()) in gate
    docs = [a for a in dom.links if a["section"] == "gate"]
    assert len(docs) == 1 and (folder / docs[0]["href"]).is_file()
    assert docs[0]["href"].startswith("gates/vae/gx/")

    metrics = json.loads((folder / "gates" / "vae" / "metrics.json").read_text())
    table = dom.text("metrics")
    assert f"{metrics['detection_auc']:.3f}" in table
    assert f"{metrics['utility']['tstr_macro_f1']:.3f}" in table

    downstream = dom.text("downstream")
    scores = json.loads((root / "metrics" / f"{dataset}.json").read_text())
    real = scores["scores"]["real_only"]["random_forest"]["macro_f1"]
    assert f"{real['mean']:.3f} ± {real['sd']:.3f}" in downstream
    assert scores["gate_check"]["summary"] in downstream
    assert (folder / "gates" / "vae" / "summary.json").is_file()  # the validate stage's folder is kept
    assert not list(folder.glob(".*tmp*"))


def test_table_report(project, tmp_path):
    dom = render(project, "iris", tmp_path)
    check_common(project, "iris", dom)
    summary = dom.text("summary")
    manifest = json.loads((project / "data/published/iris/manifest.json").read_text())
    assert "Published generator(s): vae" in summary
    assert manifest["raw_fingerprint"][:16] in summary and manifest["content_hash"][:16] in summary
    assert "train val test vae (requested)" in summary
    marginals = dom.text("marginals")
    assert "4 of 4 columns" in marginals
    assert "No samples from gan, diffusion: the sample stage has not run" in marginals
    assert [i["src"] for i in dom.images if i["section"] == "marginals"] == [
        "figures/marginals.png", "figures/pairs.png"]


def test_image_report(project, tmp_path):
    dom = render(project, "digits", tmp_path)
    check_common(project, "digits", dom)
    assert "Nothing published" in dom.text("summary")
    samples = [i for i in dom.images if i["section"] == "samples"]
    assert len(samples) == 2 * 10  # real and vae for each of the 10 classes
    assert dom.text("samples").count("no samples") == 2 * 10  # gan and diffusion


def test_report_written_elsewhere_links_back(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    page = build_report(replace(report_stage.sources("iris", params), out=project / "site" / "iris"))
    dom = Dom(page.read_text())
    assert dom.images and all((page.parent / img["src"]).is_file() for img in dom.images)
    docs = [a["href"] for a in dom.links if a["section"] == "gate"]
    assert docs[0].startswith("../../reports/iris/gates/vae/gx/") and (page.parent / docs[0]).is_file()


def test_report_before_any_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text(yaml.safe_dump({"pipeline": {"datasets": ["iris"],
                                                               "generators": ["vae"]}}))
    assert report_stage.main(["--dataset", "iris"]) == 0
    dom = Dom(Path("reports/iris/index.html").read_text())
    assert set(dom.sections) == {"summary", "marginals", "curves", "gate", "metrics", "downstream"}
    assert "the prepare stage has not run" in dom.text("summary")
    assert "the evaluate stage has not run" in dom.text("downstream")
    assert "not validated" in dom.text("gate")


def test_report_needs_valid_params(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text(yaml.safe_dump({"pipeline": {"datasets": ["iris"]}}))
    assert report_stage.main(["--dataset", "iris"]) == 2
    assert "generators" in capsys.readouterr().err
    with pytest.raises(AugmentError):
        report_stage.report("iris", {"pipeline": {"datasets": ["iris"], "generators": ["vae"]},
                                     "validate": {"no_such_limit": 1}})
