"""The written model contract (translate.models.contract) and the facts kept once: constructor defaults,
choice lists, the metric registry."""
from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from translate.config import (CoopConfig, ModelConfig, Preprocess, GanMode, choices, load_config)
from translate.engine.stages import build_stages
from translate.models.contract import OPTIONAL, PhaseLosses, StageContext, TranslationModel, optional_member
from translate.models.coop import CalibratedCUT, CoopModel, DWarmup
from translate.models.cut import CUTModel, build_model


def _defaults(fn, skip=()) -> dict:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty and k not in skip}


def test_constructor_defaults_equal_the_config_defaults():
    coop, model = CoopConfig(), ModelConfig()
    for name, default in _defaults(CoopModel.__init__).items():
        assert getattr(coop, name) == default, f"CoopModel({name}={default!r}) but coop.{name}={getattr(coop, name)!r}"
    for name, default in _defaults(CUTModel.__init__, skip=("d_augment",)).items():
        assert getattr(model, name) == default, f"CUTModel({name}={default!r}) but model.{name}"


def test_stage_models_conform_to_the_protocol(data_home):
    cfg = load_config("smoke", ["dataset=demo", "coop.enabled=true", "coop.steps=2", "coop.switch=calibrate",
                                "coop.calib_images=2", "train.steps=6"])
    from translate.datasets.folder import resolve_layout
    from translate.datasets.sources import resolve_source

    networks = build_model(cfg.model)
    cfg = resolve_source(cfg)
    files = resolve_layout(cfg.data.root)
    stages = build_stages(cfg, networks, 6, files)
    models = [s.model for s in stages] + [DWarmup(networks)]
    for m in models:
        assert isinstance(m, TranslationModel), type(m).__name__
    calibrated = stages[-1].model
    assert isinstance(calibrated, CalibratedCUT) and calibrated.G is networks.G and calibrated.D is networks.D
    assert set(stages[-1].images) == {"a", "b"}  # what its on_stage_start receives
    assert optional_member(networks, "on_stage_start") is None
    assert optional_member(stages[0].model, "sample_columns") is not None
    with pytest.raises(AttributeError, match="not an optional member"):
        optional_member(networks, "translate")
    assert OPTIONAL == ("on_stage_start", "sample_columns", "set_step")
    taught = build_stages(resolve_source(load_config("smoke", [
        "dataset=demo", "coop.enabled=true", "coop.steps=2", "coop.teach_decay_steps=2", "train.steps=6"])),
        networks, 6, files)[-1].model
    assert isinstance(taught, TranslationModel) and optional_member(taught, "set_step") is not None
    assert optional_member(networks, "set_step") is not None  # CUT's lazy R1 follows the run's step


def test_log_only_values_are_logged_and_never_optimised():
    w = torch.tensor(2.0, requires_grad=True)
    losses = PhaseLosses({"X/a": w * 3, "X/b": w * w}, logged={"X/seen": (w * 100).detach()})
    losses.total().backward()
    assert float(w.grad) == pytest.approx(3 + 4)  # the logged value does not reach the gradient
    assert losses.log_values() == {"X/a": 6.0, "X/b": 4.0, "X/seen": 200.0}


def test_coop_phase_losses_put_energies_in_the_log_field(data_home):
    cfg = load_config("smoke", ["dataset=demo"])
    networks = build_model(cfg.model)
    coop = CoopModel(networks, langevin_steps=2)
    batch = {"a": torch.rand(2, 3, 32, 32) * 2 - 1, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    out = coop(batch)
    assert set(out.logs) == {"E/f_initial", "E/pixel_change", "E/energy_drop", "E/at_bounds"}
    assert 0.0 <= out.logs["E/at_bounds"] <= 1.0
    e = coop.phase_losses("E", batch, out)
    assert set(e.optimise) == {"E/ml", "E/reg"} and set(e.logged) == {"E/f_real", "E/f_revised", "E/energy_gap"}
    assert not any(k.startswith("~") for k in e.log_values())


def test_calibrated_cut_calibrates_from_its_context():
    torch.manual_seed(0)
    cfg = load_config("smoke")
    networks = build_model(cfg.model)
    model = CalibratedCUT.sharing(networks)
    images = {"a": torch.rand(3, 3, 32, 32) * 2 - 1, "b": torch.rand(3, 3, 32, 32) * 2 - 1}
    last = [m for m in networks.D.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    before = last.weight.detach().clone()
    model.on_stage_start(StageContext(torch.device("cpu"), images))
    assert not torch.equal(before, last.weight)  # D itself (shared, not a copy) was rescaled


def test_choice_lists_come_from_the_config_literals():
    from translate.datasets.transforms import PREPROCESS_MODES
    from translate.models.losses import GAN_MODES

    assert PREPROCESS_MODES == choices(Preprocess) and GAN_MODES == choices(GanMode)
    from translate.config import Features, FigureName, MetricName
    from translate.metrics.features import EXTRACTORS
    from translate.metrics.registry import FIGURES, METRICS

    assert tuple(EXTRACTORS) == choices(Features)  # eval.features
    assert tuple(METRICS) == choices(MetricName), "a metric is named in translate/config/schema.py MetricName too"
    assert set(FIGURES) == set(choices(FigureName)), "a figure is named in translate/config/schema.py FigureName too"
    field = {f.name: f for f in dataclasses.fields(ModelConfig)}["gan_mode"]
    assert "GanMode" in str(field.type)
    from translate.config import GSkip
    from translate.models.networks.generator import SKIPS

    assert SKIPS == choices(GSkip)
    from translate.config import ModelName

    assert choices(ModelName) == ("cut", "santa")  # models/cut.py build_model dispatches on these


def test_metric_registry_is_the_one_list():
    from translate.metrics.registry import ALL_METRICS, DEFAULT_METRICS
    from translate.metrics.registry import FIGURES, METRICS, lower_is_better
    from translate.metrics.summary import METRICS as TABLE

    assert ALL_METRICS == tuple(METRICS) and set(DEFAULT_METRICS) == set(ALL_METRICS) - {"lpips"}
    for metric in METRICS.values():
        assert callable(metric.compute), metric.name
        assert set(metric.figures) <= set(FIGURES)
    assert set(TABLE) == set(FIGURES) and lower_is_better("kid") and not lower_is_better("gt_psnr")


def test_coop_clamp_switch_reaches_the_stage(data_home):
    """coop.clamp=false (as CoopNets and CycleCoopNets) lets revisions leave [-1, 1]; the default keeps them in."""
    batch = {"a": torch.rand(2, 3, 32, 32) * 2 - 1, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    revised = {}
    for clamp in ("true", "false"):
        cfg = load_config("smoke", ["dataset=demo", "coop.enabled=true", "coop.steps=2", f"coop.clamp={clamp}",
                                    "coop.langevin_steps=3", "coop.step_size=0.8"])
        torch.manual_seed(0)
        coop = build_stages(cfg, build_model(cfg.model), 10)[0].model
        assert coop.clamp == (clamp == "true")
        out = coop(batch)
        revised[clamp] = (out.revised, out.logs["E/at_bounds"])
    assert revised["true"][0].abs().max() <= 1.0 and revised["true"][1] > 0.0
    assert revised["false"][0].abs().max() > 1.0 and revised["false"][1] == 0.0
