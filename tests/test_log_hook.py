"""LogHook: interval means of the step logs in log.jsonl, per key."""
import json
from types import SimpleNamespace

from translate.engine.hooks import LogHook


def test_a_key_logged_on_some_steps_is_averaged_over_those_steps(tmp_path):
    """An interval that straddles the stage switch logs E/* on its first steps only, D/* on its last."""
    hook = LogHook(tmp_path / "log.jsonl", every=4)
    trainer = SimpleNamespace(step=0, total_steps=8, stage="cut", lr=1e-3)  # the HookContext fields LogHook reads
    steps = [{"E/gap": -0.2, "G/nce": 1.0}, {"E/gap": -0.4, "G/nce": 2.0}, {"D/real": 0.5, "G/nce": 3.0},
             {"D/real": 0.7, "G/nce": 4.0}]
    for trainer.step, logs in enumerate(steps, start=1):
        hook.after_step(trainer, logs)
    (record,) = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert record["step"] == 4 and record["G/nce"] == 2.5
    assert record["E/gap"] == -0.3 and record["D/real"] == 0.6  # not -0.15 and 0.3 (divided by all 4 steps)

    trainer.step = 5
    hook.after_step(trainer, {"G/nce": 9.0})
    hook.after_train(trainer)
    last = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])
    assert last == {**last, "step": 5, "G/nce": 9.0} and "E/gap" not in last  # counts restart per interval
