"""Building a :class:`Config`: from dicts (type-checked field by field), YAML files, presets and ``--set``.

An unknown key, a value of the wrong type or a choice outside a ``Literal`` is a :class:`ConfigError` naming
the dotted path; every config built here then passes :func:`translate.config.checks.validate`. A preset may
start from another with ``base: NAME`` (a preset name or a YAML path) and list only its changes.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from translate.config.checks import validate
from translate.config.schema import Config
from translate.errors import ConfigError

CONFIG_DIR = Path(importlib.import_module("translate.configs").__file__).resolve().parent  # the YAML presets


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{path}: expected one of {', '.join(map(str, allowed))}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return dict(value)  # free-form (e.g. an albumentations pipeline): checked where it is built
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping of {tp.__name__} fields, got {value!r}")
        return _from_dict(tp, value, path)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{path}: unexpected value {value!r}")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list of {_type_name(item_tp)}, got {value!r}")
        return [_coerce(v, item_tp, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        if not math.isfinite(value):  # nan poisons every weight at the first step; inf is never meant
            raise ConfigError(f"{path}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    return value


def _from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in hints:
            raise ConfigError(f"unknown config key '{path}' (expected one of: {', '.join(names)})")
        kwargs[key] = _coerce(value, hints[key], path)
    return cls(**kwargs)


def config_from_dict(data: dict) -> Config:
    cfg = _from_dict(Config, data or {})
    validate(cfg)
    return cfg


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


# ---------------------------------------------------------------------------------------------
# YAML files, presets and --set overrides


def resolve_config_path(name_or_path: str) -> Path:
    """A path to a YAML file, or the name of a preset in configs/ (``cut``, ``fastcut``, ``demo`` ...)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    preset = CONFIG_DIR / f"{name_or_path}.yaml"
    if preset.is_file():
        return preset
    presets = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"config file '{name_or_path}' not found (give a YAML path or a preset: {presets})")


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{k}' is not a section")
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``model.ngf=32`` -> ("model.ngf", 32); values are parsed as YAML scalars or lists."""
    if "=" not in text:
        raise ConfigError(f"--set '{text}': expected key=value, e.g. --set model.ngf=32")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for k, v in update.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_preset(name_or_path: str, _seen: tuple[Path, ...] = ()) -> dict:
    """A preset or YAML file as a dict, with its ``base:`` chain merged in (the base first, then the file).

    A base's ``preset`` name is not inherited: the result names a preset only where the file itself does.
    """
    path = resolve_config_path(name_or_path)
    if path.resolve() in _seen:
        chain = " -> ".join(p.stem for p in (*_seen, path.resolve()))
        raise ConfigError(f"{path}: 'base:' chain loops ({chain})")
    data = load_yaml(path)
    parent = data.pop("base", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{path}: base: expected a preset name or a YAML path, got {parent!r}")
    if not Path(parent).is_absolute() and (path.parent / parent).is_file():
        parent = str(path.parent / parent)  # a relative YAML path is relative to the file that names it
    inherited = load_preset(parent, (*_seen, path.resolve()))
    inherited.pop("preset", None)
    return merge(inherited, data)


def load_config(config: str | None = None, overrides: list[str] | tuple[str, ...] = (), base: dict | None = None) -> Config:
    """Preset or YAML file, then ``--set`` overrides, validated. ``base`` (e.g. a run's saved config) goes first."""
    data: dict = dict(base or {})
    if config:
        data = merge(data, load_preset(config))
        data.setdefault("preset", resolve_config_path(config).stem)
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(data, key, value)
    return config_from_dict(data)


def save_config(cfg: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
