"""The installed layout: every module imports by its translate.* name, the README maps import paths to folders,
and a top-level folder is never importable under a bare name (``import datasets`` from the repository root)."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: the test extra installs tomli
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def _modules() -> list[str]:
    """Dotted names of every .py file below each installed folder (pyproject's package-dir)."""
    names = []
    for package, folder in PACKAGE_DIR.items():
        root = REPO / folder
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            if rel.name == "__main__" or any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            names.append(".".join((package, *parts)))
    return sorted(set(names))


@pytest.mark.parametrize("name", _modules())
def test_every_module_imports_by_its_translate_name(name):
    module = importlib.import_module(name)
    assert module.__name__ == name


def test_the_package_list_covers_every_folder_with_modules():
    """A sub-package missing from pyproject's list works in an editable install but not in a wheel."""
    declared = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {n for n in _modules() if importlib.import_module(n).__spec__.submodule_search_locations}
    assert packages <= declared, f"add to [tool.setuptools] packages: {sorted(packages - declared)}"


def test_readme_table_maps_each_import_path_to_its_folder():
    readme = (REPO / "README.md").read_text()
    for package, folder in PACKAGE_DIR.items():
        assert f"| `{package}` | `{folder.rstrip('/')}/` |" in readme, f"README Layout table lacks {package}"


@pytest.mark.parametrize("folder", [f for p, f in PACKAGE_DIR.items() if p != "translate"])
def test_a_bare_import_from_the_repository_root_is_refused(folder):
    res = subprocess.run([sys.executable, "-c", f"import {folder}"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode != 0 and f"import translate.{folder}" in res.stderr


def test_no_source_file_imports_a_folder_by_its_bare_name():
    bare = tuple(f for p, f in PACKAGE_DIR.items() if p != "translate")
    offenders = []
    for folder in {*PACKAGE_DIR.values(), "tests", "benchmarks"}:
        for path in (REPO / folder).rglob("*.py"):
            for line in path.read_text().splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in bare:
                    offenders.append(f"{path.relative_to(REPO)}: {line.strip()}")
    assert not offenders


def test_the_bundled_demo_checkpoint_is_package_data():
    """`pip install .` must carry translate/assets/demo.pt and demo.json (translate/runfolder/bundled.py)."""
    import fnmatch

    from translate.runfolder.bundled import bundled_checkpoint, bundled_scores

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "translate.assets" in setuptools["packages"]
    for path in (bundled_checkpoint(), bundled_scores()):
        assert path.parent == REPO / "translate" / "assets"
        assert any(fnmatch.fnmatch(path.name, p) for p in setuptools["package-data"]["translate.assets"])
