"""dvc.yaml and params.yaml agree with the code: stage deps cover every module a stage
imports, and every generator family's defaults are spelled out in params.yaml.

Static and fast: no DVC run here (tests/test_dvc_pipeline.py touches files in a real
DVC repo and checks `dvc status`).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path, PurePosixPath

import pytest
import yaml

from augment.generators import available_generators

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("augment", "pipelines")  # project code; anything else is a third-party import
FAMILIES = tuple(available_generators())

# A string constant naming a project module, "pkg.mod" or "pkg.mod:attr": a lazy
# `importlib.import_module` target (the generator registry's `_FAMILIES`).
_MODULE_STRING = re.compile(r"(?:augment|pipelines)(?:\.\w+)+(?::\w+)?")


# Files a module reads at run time that are not imports (package data): module -> folders.
# test_package_data_is_mapped fails on a data file under augment/ or pipelines/ not here.
PACKAGE_DATA = {"augment/report.py": ("augment/templates",)}


# ---- static import closure ------------------------------------------------------------
def module_file(name: str, root: Path = ROOT) -> PurePosixPath | None:
    """The file of project module `name` ("augment.data.transformers"), relative to root:
    `<path>.py` or a package's `<path>/__init__.py`; None when no such module exists."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = PurePosixPath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if (root / candidate).is_file():
            return candidate
    return None


def _package_of(file: PurePosixPath) -> list[str]:
    """The dotted package a file's relative imports start from."""
    parts = list(file.with_suffix("").parts)
    return parts[:-1]  # "pkg/mod.py" -> pkg; "pkg/__init__.py" -> pkg (drop "__init__")


def imported_modules(file: PurePosixPath, root: Path = ROOT) -> set[str]:
    """Dotted names of every module `file` may import: every `import` / `from ... import`
    node anywhere (function bodies included: imports here are often lazy), relative
    imports resolved, `from pkg import name` counted as `pkg.name` too (a submodule or a
    plain attribute: module_file tells them apart), plus module-name string constants."""
    tree = ast.parse((root / file).read_text(), filename=str(file))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(file)
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and _MODULE_STRING.fullmatch(node.value)):
            names.add(node.value.split(":")[0])
    return names


def _with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def package_files(root: Path = ROOT) -> list[PurePosixPath]:
    """Every file under augment/ and pipelines/ (caches aside), relative to root."""
    return sorted(PurePosixPath(p.relative_to(root)) for package in PACKAGES
                  for p in (root / package).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def import_closure(module: str, root: Path = ROOT) -> set[PurePosixPath]:
    """Every project file (under augment/ and pipelines/) that running `python -m module`
    may execute or read: the module, its packages' `__init__.py`, recursively what they
    import, and the package data (PACKAGE_DATA) of those modules."""
    seen: set[PurePosixPath] = set()
    todo = [module]
    while todo:
        for name in _with_parents(todo.pop()):
            file = module_file(name, root)
            if file is None or file in seen:
                continue
            seen.add(file)
            todo.extend(imported_modules(file, root))
    data = [folder for file in seen for folder in PACKAGE_DATA.get(str(file), ())]
    return seen | {f for f in package_files(root) for folder in data
                   if str(f).startswith(folder + "/")}


# ---- dvc.yaml --------------------------------------------------------------------------
def dvc_stages(root: Path = ROOT) -> dict[str, dict]:
    return yaml.safe_load((root / "dvc.yaml").read_text())["stages"]


def stage_body(stage: dict) -> dict:
    """The stage definition (a `foreach` stage keeps it under `do`)."""
    return stage.get("do", stage)


def stage_module(stage: dict) -> str:
    match = re.search(r"python -m ([\w.]+)", stage_body(stage)["cmd"])
    assert match, f"stage command is not `python -m <module>`: {stage_body(stage)['cmd']}"
    return match.group(1)


def code_deps(stage: dict) -> list[str]:
    """The stage's deps on project code (not data, not templated paths)."""
    deps = [d if isinstance(d, str) else next(iter(d)) for d in stage_body(stage)["deps"]]
    return [d.rstrip("/") for d in deps if "${" not in d and d.split("/")[0] in PACKAGES]


def covered(file: PurePosixPath, deps: list[str]) -> bool:
    return any(str(file) == dep or str(file).startswith(dep + "/") for dep in deps)


STAGES = dvc_stages()


def test_every_stage_runs_a_project_module():
    assert set(STAGES) == {"prepare", "train", "sample", "validate", "publish", "evaluate",
                           "report"}
    for name, stage in STAGES.items():
        assert module_file(stage_module(stage)) is not None, name


def test_closure_follows_lazy_relative_and_string_imports():
    """The walker itself: lazy imports in function bodies (pipelines.params imports
    augment.generators inside a function), package __init__ files, and the registry's
    import_module strings (train reaches vae.py only through them)."""
    closure = {str(f) for f in import_closure("pipelines.train")}
    assert {"pipelines/__init__.py", "pipelines/train.py", "augment/__init__.py",
            "augment/generators/__init__.py", "augment/generators/registry.py",
            "augment/generators/vae.py", "augment/generators/gan.py",
            "augment/generators/diffusion.py", "augment/data/transformers.py"} <= closure
    assert "augment/report.py" not in closure


def test_closure_resolves_relative_and_submodule_imports(tmp_path):
    files = {
        "augment/__init__.py": "",
        "augment/a.py": "def f():\n    from . import b  # lazy, relative, a submodule\n",
        "augment/b.py": "from .sub import c\nfrom augment.sub.c import VALUE\nimport numpy\n",
        "augment/sub/__init__.py": "",
        "augment/sub/c.py": "from .. import errors\nVALUE = 1\n",
        "augment/errors.py": "",
        "augment/unused.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    closure = {str(f) for f in import_closure("augment.a", tmp_path)}
    assert closure == set(files) - {"augment/unused.py"}


def test_package_data_is_mapped():
    """A non-Python file in the packages is read by some module: PACKAGE_DATA must say
    which, or no stage would list it and editing it would rerun nothing."""
    mapped = [folder for folders in PACKAGE_DATA.values() for folder in folders]
    unmapped = [str(f) for f in package_files() if f.suffix != ".py"
                and not covered(f, mapped)]
    assert not unmapped, f"add these to PACKAGE_DATA (module -> folder): {unmapped}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_its_import_closure(name):
    """Each stage lists (as a file or a folder) every project file it may import, so a
    code change reruns every stage it can affect."""
    stage = STAGES[name]
    deps = code_deps(stage)
    missing = sorted(str(f) for f in import_closure(stage_module(stage)) if not covered(f, deps))
    assert not missing, f"dvc.yaml stage {name!r} misses deps: {missing}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_precise(name):
    """No whole-package deps (an HTML report change must not retrain models) and no dead
    ones: every code dep exists and holds a file the stage imports."""
    stage = STAGES[name]
    closure = import_closure(stage_module(stage))
    for dep in code_deps(stage):
        assert dep not in PACKAGES, f"{name}: {dep!r} is a whole package; list files or sub-folders"
        assert (ROOT / dep).exists(), f"{name}: dep {dep!r} does not exist"
        assert any(covered(f, [dep]) for f in closure), f"{name}: dep {dep!r} is not imported"


def test_report_changes_rerun_only_the_report():
    for name, stage in STAGES.items():
        if name != "report":
            assert not covered(PurePosixPath("augment/report.py"), code_deps(stage)), name


# ---- params.yaml -----------------------------------------------------------------------
def repo_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def config_defaults(family: str) -> dict:
    """The family's Config fields and defaults, as params.yaml spells them (minus the
    shared `train.seed`; tuples as lists, as YAML reads them)."""
    from augment.generators.registry import generator_class

    defaults = {}
    for f in dataclasses.fields(generator_class(family).Config):
        if f.name == "seed":
            continue
        value = f.default_factory() if f.default is dataclasses.MISSING else f.default
        defaults[f.name] = list(value) if isinstance(value, tuple) else value
    return defaults


@pytest.mark.parametrize("family", FAMILIES)
def test_params_spell_out_every_family_default(family):
    """`dvc exp run -S train.<family>.<key>=...` needs every key present in params.yaml;
    the values are the Config defaults, so params.yaml and the code cannot drift."""
    section = repo_params()["train"][family]
    expected = config_defaults(family)
    assert sorted(section) == sorted(expected), f"train.{family} keys differ from its Config"
    for key, value in expected.items():
        assert section[key] == value and type(section[key]) is type(value), (
            f"train.{family}.{key} is {section[key]!r}, the Config default is {value!r}")


def test_params_train_section_holds_shared_keys_and_families_only():
    from augment.config import TRAIN_SHARED

    params = repo_params()
    assert set(params["train"]) == {*TRAIN_SHARED, *FAMILIES}
    assert params["train"]["warm_start"] == "none"  # `dvc repro` reproducible from its inputs
    assert set(params["pipeline"]["generators"]) <= set(FAMILIES)


@pytest.mark.parametrize("dataset", sorted(repo_params()["datasets"]))
def test_repo_params_pass_check_params(dataset):
    from pipelines.params import check_params

    check_params(repo_params(), dataset, generators=list(FAMILIES))
