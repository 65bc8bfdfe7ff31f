"""The fault sweep as tests: each of issue 11's failures replayed through the real CLI (tests/faults/fault_cases.py)
must end in a clear one-line error, a safe refusal or correct handling. Slow: every case starts `python -m
translate` (and those that need a checkpoint share one smoke run). benchmarks/fault_sweep.py prints the same
cases as a table of outcomes.
"""
import shutil

import pytest
from fault_cases import CASES
from fault_kit import GOOD, NOT_RUN, new_ctx


@pytest.fixture(scope="module")
def ctx():
    ctx = new_ctx()
    yield ctx
    shutil.rmtree(ctx.base, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault_is_refused_or_handled(case, ctx):
    ctx.tmp = ctx.base / case.name
    ctx.tmp.mkdir()
    verdict = case.run(ctx)  # an error of the case itself fails here (the table runner reports it as not run)
    if verdict.kind == NOT_RUN:  # the machine cannot stage the fault, e.g. mounting a tmpfs needs root
        pytest.skip(verdict.note)
    assert verdict.kind in GOOD, f"{case.name}: {verdict.kind}: {verdict.note}"
