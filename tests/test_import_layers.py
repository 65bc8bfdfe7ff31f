"""The import contracts of pyproject.toml ([tool.importlinter]) hold on the installed package graph.

import-linter (through grimp) finds a package's modules by walking its folder, and the folder translate/ does
not hold models/, datasets/, app/ or configs/: pyproject's package-dir places them at translate.models and so
on. Run on the repository as it is, it would not see them. So each test stages the installed layout (every
folder copied to where package-dir puts it: the tree a wheel installs) and runs ``lint-imports`` there. The
second test breaks a contract on purpose, so a graph that silently lost translate.models fails here.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: the test extra installs tomli
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
PACKAGE_DIR = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-dir"]


def _stage(dest: Path) -> Path:
    """The installed layout of the working tree's packages under ``dest``."""
    for package, folder in sorted(PACKAGE_DIR.items()):  # "translate" first, then its mapped sub-packages
        shutil.copytree(REPO / folder, dest / package.replace(".", "/"), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pt"))
    return dest


def _lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with pyproject's contracts, importing ``translate`` from ``root`` (the cwd comes first
    on sys.path, ahead of the editable install's finder)."""
    if importlib.util.find_spec("importlinter") is None:
        pytest.fail("import-linter is not installed: pip install -e '.[test]' (or pip install 'import-linter>=2.17')")
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, str(PYPROJECT), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold(tmp_path):
    res = _lint(_stage(tmp_path))
    assert res.returncode == 0, f"lint-imports found imports that run the wrong way:\n{res.stdout}{res.stderr}"
    assert "Contracts: 5 kept, 0 broken." in res.stdout, res.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    root = _stage(tmp_path)
    norm = root / "translate" / "models" / "networks" / "norm.py"  # a leaf of the models layer
    norm.write_text(norm.read_text() + "\nfrom translate.engine import trainer  # noqa: E402,F401\n")
    res = _lint(root)
    assert res.returncode != 0
    assert "translate.models is not allowed to import translate.engine" in res.stdout, res.stdout + res.stderr
