"""The `augment` command through a real subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "augment.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_help_and_datasets():
    out = run("--help")
    assert out.returncode == 0 and "inspect" in out.stdout and "datasets" in out.stdout
    out = run("datasets")
    assert out.returncode == 0
    for name in ("builtin:digits", "builtin:breast_cancer", "builtin:iris"):
        assert name in out.stdout


def test_inspect_own_csv(mixed_csv):
    out = run("inspect", str(mixed_csv), "--target", "label")
    assert out.returncode == 0, out.stderr
    assert "fingerprint" in out.stdout and "colour" in out.stdout and "major" in out.stdout
    assert "categorical" in out.stdout and "integer" in out.stdout
    payload = json.loads(run("inspect", str(mixed_csv), "--target", "label", "--json").stdout)
    assert payload["rows"] == 240 and set(payload["classes"]) == {"major", "minor", "rare"}
    assert {c["name"] for c in payload["schema"]["columns"]} >= {"income", "colour", "flag"}


def test_inspect_drop_and_declare(mixed_csv):
    out = run("inspect", str(mixed_csv), "--target", "label", "--drop", "income",
              "--declare", "age=categorical", "--json")
    payload = json.loads(out.stdout)
    columns = {c["name"]: c["kind"] for c in payload["schema"]["columns"]}
    assert "income" not in columns and columns["age"] == "categorical"


def test_inspect_images():
    out = run("inspect", "builtin:digits")
    assert out.returncode == 0 and "image" in out.stdout and "(8, 8)" in out.stdout


@pytest.mark.parametrize("args,message", [
    (["inspect", "missing.csv", "--target", "y"], "no such file"),
    (["inspect", "builtin:nope"], "unknown builtin dataset"),
    (["inspect", "pyproject.toml"], "unsupported file type"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_missing_target_column(mixed_csv):
    out = run("inspect", str(mixed_csv), "--target", "nope")
    assert out.returncode == 2 and "target column 'nope' not in" in out.stderr
    out = run("inspect", str(mixed_csv))
    assert out.returncode == 2 and "--target" in out.stderr
