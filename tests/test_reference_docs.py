"""docs/cli.md and docs/config.md are what translate/reference_docs.py generates from the code now, and they
name every option and every config key."""
from __future__ import annotations

import argparse
import dataclasses
import typing

import pytest

from translate import reference_docs
from translate.cli import build_parser
from translate.config import Config


@pytest.mark.parametrize("name", sorted(reference_docs.PAGES))
def test_the_generated_page_is_up_to_date(name):
    page = reference_docs.DOCS / name
    fresh = reference_docs.PAGES[name]()
    assert page.is_file() and page.read_text() == fresh, (
        f"docs/{name} is stale (an option or a config field changed): run "
        f"`{reference_docs.REGENERATE}` and commit docs/{name}")


def _dotted_keys(cls: type, prefix: str = "") -> list[str]:
    keys, hints = [], typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            keys += _dotted_keys(hints[f.name], f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def test_config_page_has_a_row_for_every_key_with_its_default():
    page = reference_docs.render_config()
    keys = _dotted_keys(Config)
    assert "coop.langevin_steps" in keys and "data.synthetic.seed" in keys
    for key in keys:
        assert f"| `{key}` |" in page, key
    assert "| `coop.langevin_steps` | int | `15` | T, Langevin steps per revision |" in page


def test_every_config_key_says_what_it_means():
    """A field's meaning is the comment on its line (or right above it) in its dataclass: one owner."""
    silent = [line.split("|")[1].strip() for line in reference_docs.render_config().splitlines()
              if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not silent, f"give these config fields a comment on their line in translate/config/: {silent}"


def test_cli_page_has_every_subcommand_and_option():
    page = reference_docs.render_cli()
    root = build_parser()
    todo = [root]
    while todo:
        parser = todo.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += action.choices.values()
                for name, sub in action.choices.items():
                    assert f"# {sub.prog}\n" in page, sub.prog
            elif action.option_strings and not isinstance(action, argparse._HelpAction):
                assert f"`{', '.join(action.option_strings)}" in page, (parser.prog, action.option_strings)
    assert "| `--batch-size BATCH_SIZE` | `16` | images per forward pass |" in page  # translate eval


def test_check_names_a_stale_page_and_writes_nothing(tmp_path, capsys):
    for name, render in reference_docs.PAGES.items():
        (tmp_path / name).write_text(render())
    assert reference_docs.main(["--check", "--docs", str(tmp_path)]) == 0
    (tmp_path / "config.md").write_text("old\n")
    assert reference_docs.main(["--check", "--docs", str(tmp_path)]) == 1
    assert "config.md is stale" in capsys.readouterr().err
    assert (tmp_path / "config.md").read_text() == "old\n"
    assert reference_docs.main(["--docs", str(tmp_path)]) == 0
    assert reference_docs.stale(tmp_path) == []
