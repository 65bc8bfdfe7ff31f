"""Replay issue 11's fault sweep through the real CLI and print a table of the outcomes.

Usage: python benchmarks/fault_sweep.py [--only NAME[,NAME]] [--list] [--json PATH] [--keep]

The cases and their kit live with the tests (tests/faults/; ``python -m pytest tests/faults`` runs each as a
slow test). This runner adds the table a person reads: each case runs ``python -m translate ...`` in
subprocesses with a timeout, in a fresh temporary folder, and its outcome is classified (clear refusal,
handled, traceback, hang, lost files, denial of service). Cases that need a checkpoint share one smoke run
trained at first use (about 15 s on a CPU). Exit status: 0 when every case that ran was good, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS / "faults"), str(TESTS)]  # the kit imports a helper of tests/test_dataset_faults.py

from fault_cases import CASES, Case  # noqa: E402
from fault_kit import GOOD, KINDS, NOT_RUN, new_ctx, run_case  # noqa: E402


def select(only: str | None) -> list[Case]:
    if not only:
        return CASES
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = sorted(set(names) - {c.name for c in CASES})
    if unknown:
        raise SystemExit(f"error: unknown case(s) {', '.join(unknown)}; see --list")
    return [c for c in CASES if c.name in names]


def print_tables(rows: list[dict], totals: dict[str, int], wall: float) -> None:
    print()
    print(f"| {'case':26s} | {'outcome':36s} | note |")
    print(f"|{'-' * 28}|{'-' * 38}|------|")
    for r in rows:
        kind = r["kind"] if len(r["kind"]) <= 36 else r["kind"][:33] + "..."
        print(f"| {r['case']:26s} | {kind:36s} | {r['note'][:110]} |")
    print()
    print(f"| {'outcome':70s} | cases |")
    print(f"|{'-' * 72}|-------|")
    for k in KINDS:
        if k != NOT_RUN or totals[k]:
            print(f"| {k:70s} | {totals[k]:5d} |")
    print(f"| {'total':70s} | {len(rows):5d} |")
    print(f"\n{sum(r['good'] for r in rows)}/{len(rows)} good in {wall:.0f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", metavar="NAME[,NAME]", help="run these cases only")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = ap.parse_args(argv)
    if args.list:
        for c in CASES:
            print(f"{c.name:26s} {c.group}")
        return 0
    cases = select(args.only)
    ctx = new_ctx()
    rows, start = [], time.monotonic()
    try:
        for i, case in enumerate(cases, 1):
            print(f"[{i}/{len(cases)}] {case.name} ...", end=" ", flush=True)
            t0 = time.monotonic()
            v = run_case(case, ctx)
            secs = time.monotonic() - t0
            print(f"{'ok' if v.kind in GOOD else 'BAD' if v.kind != NOT_RUN else 'not run'} ({secs:.0f} s)", flush=True)
            rows.append({"case": case.name, "group": case.group, "kind": v.kind, "good": v.kind in GOOD,
                         "note": v.note, "seconds": round(secs, 1)})
    finally:
        if args.keep:
            print(f"kept {ctx.base}")
        else:
            shutil.rmtree(ctx.base, ignore_errors=True)
    wall = time.monotonic() - start
    totals = {k: sum(r["kind"] == k for r in rows) for k in KINDS}
    print_tables(rows, totals, wall)
    if args.json:
        Path(args.json).write_text(json.dumps({"totals": totals, "wall_seconds": round(wall, 1), "cases": rows},
                                              indent=1) + "\n")
    return 0 if all(r["good"] or r["kind"] == NOT_RUN for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
