"""``translate datasets list|download``: the named dataset zoo (datasets/zoo.py) from the command line."""
from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

_ROOT_HELP = "data root (default: $TRANSLATE_DATA, else ~/.cache/translate)"


def add_parser(sub) -> None:
    p = sub.add_parser("datasets", help="list and download the named datasets (horse2zebra, ...)",
                       description="The named datasets: `list` shows them, `download NAME` fetches one "
                                   "(resumable, checksummed) into the data root.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    ls = actions.add_parser("list", help="table of the named datasets and whether they are present locally")
    ls.add_argument("--root", help=_ROOT_HELP)
    ls.set_defaults(run=run_list)
    dl = actions.add_parser("download", help="download and unpack a named dataset (or print how to get it)")
    dl.add_argument("name", metavar="NAME", help="a dataset name from `translate datasets list`")
    dl.add_argument("--root", help=_ROOT_HELP)
    dl.add_argument("--keep-zip", action="store_true", help="keep NAME.zip after unpacking it")
    dl.set_defaults(run=run_download)


def _local_state(name: str, root) -> str:
    from translate.datasets.zoo import is_present, is_verified
    from translate.paths import data_root

    if is_present(name, root):
        return "yes (checksummed)" if is_verified(name, root) else "yes"
    part = data_root(root) / f"{name}.zip.part"
    if part.is_file():
        return f"partial ({part.stat().st_size / 2**20:.0f} MB)"
    return "no"


def format_table(root=None) -> str:
    """The `datasets list` table: name, size, image counts, source, local state."""
    from translate.datasets.zoo import ZOO

    rows = [("name", "size", "trainA/trainB", "testA/testB", "source", "local")]
    for e in ZOO.values():
        size = f"{e.size_mb / 1024:.1f} GB" if e.size_mb >= 1024 else f"{e.size_mb} MB"
        test = f"{e.counts['testA']}/{e.counts['testB']}" if "testA" in e.counts else "-"
        rows.append((e.name, size, f"{e.counts['trainA']}/{e.counts['trainB']}", test,
                     "download" if e.downloadable else "manual", _local_state(e.name, root)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def run_list(args) -> int:
    from translate.paths import data_root

    print(format_table(args.root))
    print(f"\ndata root: {data_root(args.root)}  (choose with --root, --data-root or $TRANSLATE_DATA)")
    return 0


def run_download(args) -> int:
    from translate.datasets.zoo import ensure_dataset, get_entry, is_present, manual_instructions

    entry = get_entry(args.name)
    if not entry.downloadable and not is_present(args.name, args.root):
        print(manual_instructions(args.name, args.root))
        return 1
    folder = ensure_dataset(args.name, args.root, progress=True, keep_zip=args.keep_zip)
    print(f"{args.name}: {folder}\n{entry.note}", file=sys.stderr)
    print(folder)
    return 0
