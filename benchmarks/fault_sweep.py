"""Replay issue 11's fault sweep through the real CLI and classify each outcome.

Usage: python benchmarks/fault_sweep.py [--only NAME[,NAME]] [--list] [--json PATH] [--keep]

Each case (benchmarks/fault_cases.py) runs ``python -m translate ...`` in subprocesses with a timeout, in a
fresh temporary folder (TRANSLATE_DATA inside it, the zoo server pointed at a dead local port), and checks the
outcome itself: exit code, no traceback, one ``error:`` line, files kept byte-identical, counts, resumes.
Cases that need a checkpoint share one smoke run trained at first use (about 15 s on a CPU).
Exit status: 0 when every case that ran was good, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fault_cases import CASES, Case  # noqa: E402
from fault_kit import DEAD_URL, GOOD, KINDS, NOT_RUN, Ctx, Verdict  # noqa: E402

ENV = {"OMP_NUM_THREADS": "1", "NO_ALBUMENTATIONS_UPDATE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
       "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1", "TRANSLATE_ZOO_URL": DEAD_URL}


def select(only: str | None) -> list[Case]:
    if not only:
        return CASES
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = sorted(set(names) - {c.name for c in CASES})
    if unknown:
        raise SystemExit(f"error: unknown case(s) {', '.join(unknown)}; see --list")
    return [c for c in CASES if c.name in names]


def run_case(case: Case, ctx: Ctx) -> Verdict:
    """The case's verdict; a failure of the sweep itself (not of the CLI) is reported as 'not run'."""
    ctx.tmp = ctx.base / case.name
    ctx.tmp.mkdir()
    try:
        return case.run(ctx)
    except Exception as e:  # noqa: BLE001 - a broken case must not stop the sweep
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Verdict(NOT_RUN, f"sweep error: {type(e).__name__}: {e} ({Path(where.filename).name}:{where.lineno})")


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
    base = Path(tempfile.mkdtemp(prefix="fault-sweep-"))
    ctx = Ctx(base=base, env={**os.environ, **ENV, "TRANSLATE_DATA": str(base / "data")})
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
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    wall = time.monotonic() - start
    totals = {k: sum(r["kind"] == k for r in rows) for k in KINDS}
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
    if args.json:
        Path(args.json).write_text(json.dumps({"totals": totals, "wall_seconds": round(wall, 1), "cases": rows},
                                              indent=1) + "\n")
    return 0 if all(r["good"] or r["kind"] == NOT_RUN for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
