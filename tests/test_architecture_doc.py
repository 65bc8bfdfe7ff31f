"""docs/architecture.md names only what exists: every path is in the repository, every ``translate.*`` name
imports (a module, or a module's attribute), and its layer list is the import contract's (pyproject.toml)."""
from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: the test extra installs tomli
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
TOP_FOLDERS = ("translate", "models", "datasets", "app", "configs", "tests", "benchmarks", "docs")
# `path/to/file.py`, `folder/`, `translate.engine.run.build_run` inside backticks (code blocks included)
PATH = re.compile(rf"(?<![\w./])((?:{'|'.join(TOP_FOLDERS)})/[\w./-]*)")
DOTTED = re.compile(r"(?<![\w.])(translate(?:\.\w+)+)")


def _code(text: str) -> str:
    """The doc's code: inline `spans` and fenced blocks, where names are meant literally."""
    fenced = re.findall(r"```.*?\n(.*?)```", text, flags=re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(fenced + inline)


def _resolve(dotted: str) -> object:
    """The module or attribute ``dotted`` names: the longest module prefix, then attributes. A module is found
    without being run (``translate.__main__`` would start the CLI)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # a prefix is a module, not a package
            spec = None
        if spec is None:
            continue
        if cut == len(parts):
            return spec
        obj = importlib.import_module(name)
        for attr in parts[cut:]:
            obj = getattr(obj, attr)  # AttributeError: the doc names something that is not there
        return obj
    raise ModuleNotFoundError(dotted)


def test_every_path_the_doc_names_exists():
    code = _code(DOC.read_text())
    paths = sorted({m.rstrip(".") for m in PATH.findall(code)})
    assert len(paths) > 20, "the doc should name the modules it describes"
    missing = [p for p in paths if "<" not in p and "*" not in p and not (REPO / p).exists()]  # <N>, *: patterns
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_translate_name_the_doc_names_imports():
    names = sorted(set(DOTTED.findall(_code(DOC.read_text()))))
    assert len(names) > 10
    broken = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError) as e:
            broken.append(f"{name} ({type(e).__name__}: {e})")
    assert not broken, "docs/architecture.md names what does not exist:\n" + "\n".join(broken)


def test_the_layers_are_the_import_contracts():
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    section = DOC.read_text().split("## Layers", 1)[1].split("\n## ", 1)[0]
    for layer in layers:
        for module in re.split(r"\s*[|:]\s*", layer.strip()):
            assert f"translate.{module}" in section, f"the Layers section of docs/architecture.md lacks {module}"
