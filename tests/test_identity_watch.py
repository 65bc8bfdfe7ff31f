"""IdentityWatchHook: one warning when G's output has become its input (a masked G whose mask shut)."""
import logging
from types import SimpleNamespace

from translate.engine.hooks import IdentityWatchHook


def _feed(hook, changes, start=1):
    ctx = SimpleNamespace(step=0)
    for ctx.step, change in enumerate(changes, start=start):
        hook.after_step(ctx, {"G/change": change, "G/gan": 1.0})


def test_warns_once_after_a_fifth_of_the_run_at_the_identity(caplog):
    hook = IdentityWatchHook(every=5, total=100)  # judged from step 11; patience 20 steps
    with caplog.at_level(logging.WARNING, logger="translate.engine.hooks"):
        _feed(hook, [0.0001] * 10)  # steps 1-10: the first tenth, not judged
        _feed(hook, [0.0001] * 15, start=11)  # 15 steps at the identity: not yet
        assert not caplog.records
        _feed(hook, [0.0003] * 5, start=26)  # 20: warned, naming the step and the figure
        _feed(hook, [0.0001] * 20, start=31)  # and never again
    (record,) = caplog.records
    assert "step 30: G has returned its input unchanged for 20 steps" in record.getMessage()
    assert "0.00030" in record.getMessage() and "train.seed" in record.getMessage()


def test_working_runs_and_short_dips_stay_silent(caplog):
    """The demo task's working runs: a dip below the threshold for less than a fifth of the run, then 0.03+,
    among them the one that stayed below it for 175 steps (sd_maskm02, seed 0: steps 200-375) and recovered."""
    with caplog.at_level(logging.WARNING, logger="translate.engine.hooks"):
        hook = IdentityWatchHook(every=25, total=1500)  # judged from step 151, patience 300 steps
        _feed(hook, [0.04] * 150 + [0.0004] * 125 + [0.04] * 25 + [0.0005] * 125 + [0.05] * 1075)
        _feed(IdentityWatchHook(every=25, total=1500), [0.003] * 175 + [0.0006] * 175 + [0.02] * 1150)
        _feed(IdentityWatchHook(every=25, total=1500), [0.15] * 1500)  # an unmasked G's failure repaints
        silent = IdentityWatchHook(every=25, total=1500)
        ctx = SimpleNamespace(step=0)
        for ctx.step in range(1, 1500):
            silent.after_step(ctx, {"E/gap": 0.0})  # a stage that logs no G/change (CoopInit's)
    assert not caplog.records


def test_replay_script_applies_the_hook_to_a_runs_log(tmp_path, capsys):
    """benchmarks/identity_watch_replay.py: a logged run at the identity from step 25 is warned of at step 450
    (judged from step 151, patience 300); one that dipped for 175 steps and recovered is not; the result JSON
    beside a folder says whether it ended as the identity."""
    import json

    from benchmark_scripts import load_benchmark

    script = load_benchmark("identity_watch_replay")

    def run(name, change_at, source_share):
        folder = tmp_path / name
        folder.mkdir()
        rows = [{"step": s, "G/change": change_at(s), "G/gan": 1.0} for s in range(25, 1501, 25)]
        (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (tmp_path / f"{name}.json").write_text(json.dumps({"runs": [{"source_share": source_share}]}))
        return folder

    shut = run("shut", lambda s: 0.0002, 1.0)
    dip = run("dip", lambda s: 0.0005 if 200 < s <= 375 else 0.04, 0.0)
    assert script.replay(shut) == {"steps": 1500, "warned_at": 450, "longest_low": 1350, "identity": True}
    assert script.replay(dip) == {"steps": 1500, "warned_at": None, "longest_low": 175, "identity": False}
    assert script.main([str(shut), str(dip)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("identity runs 1, of them warned of 1; "
                                                         "other runs warned of 0")
    assert script.main([str(tmp_path / "missing")]) == 2
