"""The optional extras of pyproject.toml and the one-line error a missing one gives. Torch-free.

A feature that needs an optional package calls ``require(module, extra, feature)`` before using it, so a
user who installed ``.[test]`` (the README's quick start) and asks for it reads which extra to install,
never an ImportError or a library's own traceback (torch.onnx's "Module onnx is not installed!").
"""
from __future__ import annotations

import importlib
from types import ModuleType

from translate.errors import TranslateError


def install_hint(extra: str) -> str:
    return f'pip install -e ".[{extra}]"'


def require(module: str, extra: str, feature: str) -> ModuleType:
    """``import module``, or a TranslateError naming ``feature``, the package and the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise TranslateError(f"{feature} needs the {module.split('.')[0]} package, from the optional extra "
                             f"'{extra}': {install_hint(extra)} (or pip install \"translate[{extra}]\")") from None
