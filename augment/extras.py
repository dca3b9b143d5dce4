"""Which optional package an import needs, and the extra that installs it.

`pip install augment` gives the library and the CLI's fit, sample, inspect and filter
commands; the rest comes with extras (pyproject.toml):

- `augment[gate]`: Great Expectations (the validation gate), matplotlib and jinja2 (the
  HTML report and its plots), imbalanced-learn (the SMOTE baseline of the downstream
  comparison);
- `augment[dvc]`: DVC and pyarrow (the pipeline's stages and parquet splits, publishing);
- `augment[airflow]`: Airflow, with both of the above; `augment[all]`: everything.

The packages are imported where they are used, never at `import augment`, so the core
imports and fits without them (tests/test_packaging.py).
"""

from __future__ import annotations

# top-level module -> (distribution, extra)
EXTRAS: dict[str, tuple[str, str]] = {
    "great_expectations": ("great-expectations", "gate"),
    "matplotlib": ("matplotlib", "gate"),
    "jinja2": ("jinja2", "gate"),
    "imblearn": ("imbalanced-learn", "gate"),
    "dvc": ("dvc", "dvc"),
    "pyarrow": ("pyarrow", "dvc"),
    "airflow": ("apache-airflow", "airflow"),
}


def missing_extra_message(err: ImportError) -> str | None:
    """'<what> needs <package>: pip install "augment[<extra>]"' for an ImportError of an
    optional package (also pandas' "Missing optional dependency 'pyarrow'"); None for any
    other import error, which is a bug to show whole."""
    name = (err.name or "").split(".")[0]
    if name not in EXTRAS:
        name = next((module for module in EXTRAS if f"'{module}'" in str(err)), "")
    if not name:
        return None
    package, extra = EXTRAS[name]
    return f"this needs the optional package {package}: pip install \"augment[{extra}]\""
