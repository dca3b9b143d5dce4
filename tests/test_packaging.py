"""`pip install augment` is the library and the CLI's core commands without Airflow, Great
Expectations or DVC (extras `gate`, `dvc`, `airflow`, `all`; augment/extras.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# every optional package: the core must work with none of them importable
OPTIONAL = ["airflow", "great_expectations", "dvc", "matplotlib", "jinja2", "imblearn", "pyarrow"]
# an import finder that refuses them, as an environment without them would
BLOCK = f"""import sys


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {OPTIONAL!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)


sys.meta_path.insert(0, Refuse())
"""


def run_blocked(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter where the optional packages cannot be imported."""
    return subprocess.run([sys.executable, "-c", BLOCK + code], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_the_core_fits_samples_and_saves_without_the_extras(tmp_path):
    code = f"""
import json
from augment.data import load_dataset
from augment.generators import get_generator, load_generator
for source in ("builtin:iris", "builtin:digits"):
    ds = load_dataset(source)
    gen = get_generator("vae", epochs=1, min_steps=0, progress="never").fit(ds.X[:200], ds.y[:200])
    counts = {{ds.classes[0]: 5, ds.classes[1]: 3}}
    X, y = gen.sample(counts, seed=0)
    gen.save({str(tmp_path)!r} + "/" + source[8:])
    again = load_generator({str(tmp_path)!r} + "/" + source[8:]).sample(counts, seed=0)[0]
    assert len(y) == 8 and len(again) == 8
print(json.dumps(sorted(m for m in {OPTIONAL!r} if sys.modules.get(m) is not None)))
"""
    done = run_blocked(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_cli_names_the_extra_a_command_needs(tmp_path):
    fit = ("from augment.cli import main\n"
           "sys.exit(main(['fit', '--data', 'builtin:iris', '--generator', 'vae', '--out', 'm',"
           " '--set', 'epochs=1', '--set', 'min_steps=0']))")
    done = run_blocked(fit, tmp_path)
    assert done.returncode == 0, done.stderr
    sample = ("from augment.cli import main\n"
              "sys.exit(main(['sample', '--model', 'm', '--out', 's.csv',"
              " '--counts', 'setosa=20,versicolor=20,virginica=20']))")
    done = run_blocked(sample, tmp_path)
    assert done.returncode == 0, done.stderr
    validate = ("from augment.cli import main\n"
                "sys.exit(main(['validate', '--real', 's.csv', '--synthetic', 's.csv', '--target', 'target',"
                " '--out', 'gate']))")
    done = run_blocked(validate, tmp_path)
    assert done.returncode == 2, done.stderr
    assert 'pip install "augment[gate]"' in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "gate").exists()


def test_pyproject_keeps_the_servers_in_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for heavy in ("apache-airflow", "great-expectations", "dvc", "pyarrow", "matplotlib"):
        assert heavy not in core
    assert "scipy" in core and "torch>=" in core and "torch==" not in core
    extras = project["optional-dependencies"]
    assert {"gate", "dvc", "airflow", "all"} <= set(extras)
    assert any("great-expectations" in d for d in extras["gate"])
    assert any("dvc" in d for d in extras["dvc"])
    assert any("apache-airflow" in d for d in extras["airflow"])
    assert '".[all,dev]"' in (ROOT / "Makefile").read_text()
