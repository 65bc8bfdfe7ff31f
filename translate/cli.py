"""The ``translate`` command: argparse subcommands, each a thin wrapper around library code.

Errors the user can fix print one line (``error: ...``) and exit with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from translate import __version__
from translate.errors import TranslateError

# Each module exposes add_parser(subparsers) and run(args) -> int.
COMMANDS = ["train", "apply", "export", "datasets", "eval", "report", "demo"]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="translate", description="Unpaired image-to-image translation "
                                     "(CUT, FastCUT, CoopInit): train, apply, evaluate and demo.")
    parser.add_argument("--version", action="version", version=f"translate {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"translate.commands.{name}").add_parser(sub)
    return parser


def setup_logging(verbose: bool = False) -> None:
    rank = os.environ.get("RANK", "0")
    level = logging.DEBUG if verbose else (logging.INFO if rank == "0" else logging.WARNING)
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    for noisy in ("PIL", "httpx", "urllib3", "gradio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.run(args) or 0)
    except TranslateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
