"""``translate report RUN``: loss and evaluation plots (PNG) and a best/last table for a run folder."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="plot a run's losses and evaluation figures; best and last checkpoints",
                       description="Reads RUN/log.jsonl and RUN/metrics.jsonl; writes losses.png, metrics.png "
                                   "and report.md (into RUN unless --out) and prints the table.")
    p.add_argument("run_dir", metavar="RUN", help="run folder made by `translate train`")
    p.add_argument("--out", help="folder for the plots and report.md (default: RUN)")
    p.set_defaults(run=run)


def run(args) -> int:
    from translate.metrics.run_report import write_report

    text, written = write_report(args.run_dir, args.out)
    print(text, end="")
    log.info("wrote %s", ", ".join(str(p) for p in written))
    return 0
