"""Evaluation during training: metrics.jsonl, best-checkpoint tracking, and resume."""

import pytest
import torch

from translate.events import HookContext, SaveCheckpoint
from translate.metrics.hook import EvalHook, read_metrics


class ScriptedEvaluator:
    """Returns the next scripted figures at each call, as Evaluator.run does."""

    def __init__(self, figures):
        self.figures = list(figures)

    def run(self, G):
        return dict(self.figures.pop(0), features="fake", n_images=3), None


class FakeTrainer:
    """Plays the trainer for one hook: a HookContext at each event; the saves the hook asks for are noted."""

    def __init__(self):
        self.step, self.current_lr = 0, 0.0
        self.saved: list[tuple[str, int]] = []

    def send(self, hook, event, *args):
        ctx = HookContext(step=self.step, total_steps=100, stage="cut", lr=self.current_lr, stopped=False,
                          device=torch.device("cpu"), G=torch.nn.Identity(), generator="G", model=None)
        for request in getattr(hook, event)(ctx, *args) or ():
            if isinstance(request, SaveCheckpoint):
                self.saved.append((request.path.name, self.step))


def _run_steps(hook, trainer, steps):
    for _ in range(steps):
        trainer.step += 1
        trainer.send(hook, "after_step", {})


def test_best_checkpoints_follow_each_metrics_direction(tmp_path):
    figures = [{"kid": 0.5, "gt_psnr": 10.0}, {"kid": 0.3, "gt_psnr": 9.0}, {"kid": 0.4, "gt_psnr": 12.0}]
    trainer, hook = FakeTrainer(), EvalHook(ScriptedEvaluator(figures), tmp_path, 2, ["kid", "gt_psnr"])
    _run_steps(hook, trainer, 6)
    trainer.send(hook, "after_train")  # step 6 was just evaluated: no second evaluation
    assert trainer.saved == [("best_kid.pt", 2), ("best_gt_psnr.pt", 2), ("best_kid.pt", 4), ("best_gt_psnr.pt", 6)]
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records] == [2, 4, 6] and records[1]["improved"] == ["kid"]
    assert hook.best == {"kid": (0.3, 4), "gt_psnr": (12.0, 6)}


def test_resume_forgets_evaluations_past_the_checkpoint(tmp_path):
    figures = [{"kid": 0.5}, {"kid": 0.3}, {"kid": 0.1}]
    trainer, hook = FakeTrainer(), EvalHook(ScriptedEvaluator(figures), tmp_path, 2, ["kid"])
    _run_steps(hook, trainer, 6)
    # Resumed from a checkpoint at step 4: the record of step 6 is dropped and the best comes from steps <= 4.
    resumed = EvalHook(ScriptedEvaluator([{"kid": 0.2}]), tmp_path, 2, ["kid"], start_step=4)
    assert resumed.best == {"kid": (0.3, 4)}
    trainer.step, trainer.saved = 4, []
    _run_steps(resumed, trainer, 2)
    assert trainer.saved == [("best_kid.pt", 6)]
    assert [(r["step"], r["kid"]) for r in read_metrics(tmp_path / "metrics.jsonl")] == [(2, 0.5), (4, 0.3), (6, 0.2)]


def test_a_nan_score_is_written_as_null_and_never_best(tmp_path):
    import json

    def strict(text):  # json.loads accepts NaN, which is not JSON: other readers (jq, JavaScript) reject it
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))

    trainer, hook = FakeTrainer(), EvalHook(ScriptedEvaluator([{"kid": float("nan")}, {"kid": 0.2}]), tmp_path, 1,
                                            ["kid"])
    _run_steps(hook, trainer, 2)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [strict(line)["kid"] for line in lines] == [None, 0.2]
    assert trainer.saved == [("best_kid.pt", 2)] and hook.best == {"kid": (0.2, 2)}
    resumed = EvalHook(ScriptedEvaluator([]), tmp_path, 1, ["kid"], start_step=2)  # the resume rewrite, too
    assert [strict(line)["kid"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [None, 0.2]
    assert resumed.best == {"kid": (0.2, 2)}


@pytest.fixture(scope="module")
def eval_run(data_home, tmp_path_factory):
    from translate.config import load_config
    from train_helpers import make_trainer

    run_dir = tmp_path_factory.mktemp("eval-run")
    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu", "train.steps=5", "train.eval_every=2",
                                "eval.features=tiny", "eval.best=[kid, gt_bg_l1]", "eval.n_images=4"])
    make_trainer(cfg, run_dir).fit()
    return run_dir


@pytest.mark.slow
def test_training_keeps_best_and_last(eval_run):
    from translate.runfolder.schema import load_checkpoint

    records = read_metrics(eval_run / "metrics.jsonl")
    assert [r["step"] for r in records] == [2, 4, 5]  # every 2 steps, and the last step
    assert all(r["features"] == "tiny" and r["n_images"] == 4 and r["generator"] == "G" for r in records)
    for metric in ("kid", "gt_bg_l1"):
        best = min(records, key=lambda r: r[metric])
        assert load_checkpoint(eval_run / "ckpt" / f"best_{metric}.pt")["step"] == best["step"]
    assert load_checkpoint(eval_run / "ckpt" / "latest.pt")["step"] == 5
    assert not (eval_run / "ckpt" / "best_fid.pt").exists()


@pytest.mark.slow
def test_eval_every_does_not_change_training(eval_run, data_home, tmp_path):
    """Evaluation draws no random numbers from the training streams: the weights match a run without it."""
    from translate.runfolder.schema import load_checkpoint
    from translate.config import load_config
    from train_helpers import make_trainer

    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu", "train.steps=5"])
    make_trainer(cfg, tmp_path).fit()
    with_eval = load_checkpoint(eval_run / "ckpt" / "latest.pt")["models"]["G"]
    without = load_checkpoint(tmp_path / "ckpt" / "latest.pt")["models"]["G"]
    assert all(torch.equal(with_eval[k], without[k]) for k in without)


def test_bad_eval_config_is_reported(data_home, tmp_path):
    from translate.config import load_config
    from train_helpers import make_trainer
    from translate.errors import ConfigError

    with pytest.raises(ConfigError, match="sharpness"):  # refused as the config loads, before any work
        cfg = load_config("smoke", ["dataset=demo", "train.device=cpu", "train.eval_every=2", "eval.best=[sharpness]"])
        make_trainer(cfg, tmp_path)


def test_tensorboard_option(tmp_path):
    """With tensorboard installed the hook writes event files; without it, a ConfigError says how to install."""
    import importlib.util

    from translate.errors import ConfigError
    from translate.metrics.tensorboard import TensorBoardHook

    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ConfigError, match="pip install tensorboard"):
            TensorBoardHook(tmp_path / "tb", 1)
        return
    hook, trainer = TensorBoardHook(tmp_path / "tb", 1), FakeTrainer()
    trainer.step, trainer.current_lr = 1, 1e-4
    trainer.send(hook, "after_step", {"G/nce": 1.0})
    trainer.send(hook, "on_eval", {"step": 1, "kid": 0.1, "features": "tiny"})
    trainer.send(hook, "after_train")
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
