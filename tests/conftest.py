"""Shared test setup: offline-friendly environment, one torch thread, and a cached smoke-trained run."""
import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def ctrl_c_at():
    """A factory of trainer hooks that send this process SIGINT after step N, as if the user pressed Ctrl-C."""
    import signal

    from translate.events import Hook

    class CtrlCAt(Hook):
        def __init__(self, step):
            self.step = step

        def after_step(self, ctx, logs):
            if ctx.step == self.step:
                os.kill(os.getpid(), signal.SIGINT)

    return CtrlCAt


@pytest.fixture(scope="session")
def data_home(tmp_path_factory):
    """Synthetic datasets generated once per test session, outside the user's cache."""
    path = tmp_path_factory.mktemp("translate-data")
    os.environ["TRANSLATE_DATA"] = str(path)
    return path


@pytest.fixture(scope="session")
def smoke_run(data_home, tmp_path_factory):
    """A run folder trained with configs/smoke.yaml (a few steps of tiny networks)."""
    from translate.config import load_config
    from train_helpers import make_trainer

    run_dir = tmp_path_factory.mktemp("smoke-run")
    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu"])
    make_trainer(cfg, run_dir).fit()
    return run_dir


@pytest.fixture
def server(monkeypatch):
    """A local HTTP server standing in for the zoo's download server (tests/test_download.py's LocalServer)."""
    from test_download import LocalServer

    srv = LocalServer()
    monkeypatch.setenv("TRANSLATE_ZOO_URL", srv.base)
    yield srv
    srv.close()
