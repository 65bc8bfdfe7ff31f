"""Replays training's identity watch (translate/engine/hooks.py, IdentityWatchHook) on finished runs' logs.

    python benchmarks/identity_watch_replay.py runs/mask/*_s? runs/edge/*_s? runs/curve/*_s?

For each run folder, the ``G/change`` values of its log.jsonl (each the mean over a log interval) are fed to
the hook step by step, as training feeds it, and the table says whether and at which step it would warn, the
longest stretch (in steps, after the run's first tenth) that ``G/change`` stayed below the hook's threshold, and
whether the run ended as the identity (``source_share`` > 0.5 in the result JSON ``coopinit_ablation.py`` wrote
beside the folder, ``RUN.json``; "?" without one: an unfinished run, left out of the counts). The last line
counts the finished runs that ended as the identity, how many of them the hook warned of, and the other finished
runs it warned of. docs/training.md ("When G returns its input") and the hook's docstring quote it.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

from translate.engine.hooks import IdentityWatchHook


def replay(run: Path) -> dict | None:
    """{'steps', 'warned_at', 'longest_low', 'identity'} for a run folder; None when its log has no G/change."""
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if '"G/change"' in line]
    if not rows:
        return None
    every = rows[1]["step"] - rows[0]["step"] if len(rows) > 1 else rows[0]["step"]
    total = rows[-1]["step"]
    hook, ctx, warned_at = IdentityWatchHook(every, total), SimpleNamespace(step=0), None
    low = longest = 0
    for row in rows:
        for ctx.step in range(ctx.step + 1, row["step"] + 1):
            hook.after_step(ctx, {"G/change": row["G/change"]})
            if hook.warned and warned_at is None:
                warned_at = ctx.step
        if row["step"] > hook.start:
            low = low + every if row["G/change"] < hook.threshold else 0
            longest = max(longest, low)
    return {"steps": total, "warned_at": warned_at, "longest_low": longest, "identity": _ended_as_identity(run)}


def _ended_as_identity(run: Path) -> bool | None:
    result = run.with_suffix(".json")
    if not result.is_file():
        return None
    data = json.loads(result.read_text())
    row = data["runs"][0] if "runs" in data else data
    return row.get("source_share", 0.0) > 0.5


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders (each with log.jsonl)")
    args = p.parse_args(argv)
    logging.getLogger("translate.engine.hooks").setLevel(logging.ERROR)  # the table says it; no warning per run
    print("| run | steps | ended as the identity | longest stretch below the threshold (steps) | warned at step |")
    print("|---|---|---|---|---|")
    counts = {"identity": 0, "identity_warned": 0, "other_warned": 0}
    for run in args.runs:
        if not (run / "log.jsonl").is_file():
            print(f"error: {run}/log.jsonl not found (expected a run folder)", file=sys.stderr)
            return 2
        r = replay(run)
        if r is None:
            continue
        ident = {True: "yes", False: "no", None: "?"}[r["identity"]]
        print(f"| {run} | {r['steps']} | {ident} | {r['longest_low']} | {r['warned_at'] or '-'} |")
        counts["identity"] += r["identity"] is True
        counts["identity_warned"] += r["identity"] is True and r["warned_at"] is not None
        counts["other_warned"] += r["identity"] is False and r["warned_at"] is not None
    print(f"\nidentity runs {counts['identity']}, of them warned of {counts['identity_warned']}; "
          f"other runs warned of {counts['other_warned']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
