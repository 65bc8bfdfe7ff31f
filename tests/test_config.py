import pytest

from translate.config import Config, config_from_dict, config_to_dict, load_config, parse_override
from translate.errors import ConfigError


def test_defaults_are_the_cut_reference():
    cfg = Config()
    assert (cfg.model.ngf, cfg.model.n_blocks, cfg.model.nce_t, cfg.model.num_patches) == (64, 9, 0.07, 256)
    assert (cfg.train.lr, cfg.train.beta1, cfg.data.crop_size, cfg.data.load_size) == (2e-4, 0.5, 256, 286)


@pytest.mark.parametrize("preset", ["cut", "fastcut", "demo", "smoke"])
def test_presets_load(preset):
    cfg = load_config(preset)
    assert cfg.preset == preset


def test_fastcut_preset_differs_as_in_the_paper():
    cut, fast = load_config("cut"), load_config("fastcut")
    assert (cut.model.nce_idt, cut.model.lambda_nce, cut.model.flip_equivariance) == (True, 1.0, False)
    assert (fast.model.nce_idt, fast.model.lambda_nce, fast.model.flip_equivariance) == (False, 10.0, True)
    assert (cut.train.epochs, cut.train.decay_epochs, fast.train.epochs, fast.train.decay_epochs) == (400, 200, 200, 50)


def test_dotted_overrides_are_typed():
    cfg = load_config("cut", ["model.ngf=32", "train.lr=1e-3", "data.flip=false", "model.nce_layers=[input, down1]"])
    assert cfg.model.ngf == 32 and cfg.train.lr == 1e-3 and cfg.data.flip is False
    assert cfg.model.nce_layers == ["input", "down1"]


def test_int_accepted_for_float():
    assert load_config(None, ["train.lr=1"]).train.lr == 1.0


@pytest.mark.parametrize("override, message", [
    ("model.ngff=3", "unknown config key 'model.ngff'"),
    ("modle.ngf=3", "unknown config key 'modle'"),
    ("model.ngf=abc", "model.ngf: expected an integer, got 'abc'"),
    ("data.flip=3", "data.flip: expected true or false"),
    ("model.gan_mode=wgan", "model.gan_mode: expected one of lsgan"),
    ("model.ngf=0", "model.ngf: expected a positive integer"),
    ("model.nce_layers=[input, block12]", "model.nce_layers: unknown layer 'block12'"),
    ("train.ema=1.5", "train.ema"),
    ("data.crop_size=512", "data.crop_size (512) must not exceed data.load_size (286)"),
])
def test_bad_values_name_the_dotted_path(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("cut", [override])
    assert message in str(err.value)


def test_override_needs_equals():
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("model.ngf")


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="fastcut"):
        load_config("nope")


def test_bad_yaml_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))


def test_round_trip_through_dict():
    cfg = load_config("fastcut", ["model.ngf=16"])
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_coop_presets_are_deltas_of_their_base():
    for coop, base in (("coop_cut", "cut"), ("coop_fastcut", "fastcut"), ("coop_demo", "demo"),
                       ("coop_demo_ref", "demo_ref")):
        c, b = config_to_dict(load_config(coop)), config_to_dict(load_config(base))
        assert c["preset"] == coop and b["preset"] == base
        assert c["coop"]["enabled"] and c["coop"]["fraction"] == 0.10  # the sweep's stage length
        assert {k: v for k, v in c.items() if k not in ("preset", "coop")} == \
               {k: v for k, v in b.items() if k not in ("preset", "coop")}


def test_demo_ref_is_the_demo_task_at_the_reference_size():
    """Issue 24: ngf 32, 6 blocks, 3,000 steps (1,000 decaying), 1,000 images; the rest is demo's."""
    ref, demo = config_to_dict(load_config("demo_ref")), config_to_dict(load_config("demo"))
    changed = {(section, key): value for section in ("data", "model", "train") for key, value in ref[section].items()
               if value != demo[section][key]}
    assert changed == {("data", "synthetic"): {**demo["data"]["synthetic"], "n_train": 1000},
                       ("model", "ngf"): 32, ("model", "n_blocks"): 6,
                       ("model", "nce_layers"): ["input", "down1", "down2", "block1", "block5"],
                       ("train", "steps"): 3000, ("train", "decay_steps"): 1000}
    assert {k: v for k, v in ref.items() if k not in ("preset", "data", "model", "train")} == \
           {k: v for k, v in demo.items() if k not in ("preset", "data", "model", "train")}


def test_base_chain_merges_in_order_and_loops_are_errors(tmp_path):
    (tmp_path / "mid.yaml").write_text("base: demo\nmodel: {ngf: 8}\ntrain: {steps: 7, decay_steps: 2}\n")
    (tmp_path / "top.yaml").write_text("base: mid.yaml\ntrain: {steps: 9}\n")  # relative to this file
    cfg = load_config(str(tmp_path / "top.yaml"))
    assert cfg.preset == "top" and cfg.model.ngf == 8 and cfg.train.steps == 9
    assert cfg.model.n_blocks == load_config("demo").model.n_blocks  # from demo, two levels down
    (tmp_path / "a.yaml").write_text(f"base: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"base: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="chain loops"):
        load_config(str(tmp_path / "a.yaml"))
    (tmp_path / "bad.yaml").write_text("base: no_such_preset\n")
    with pytest.raises(ConfigError, match="no_such_preset"):
        load_config(str(tmp_path / "bad.yaml"))


def test_a_choice_outside_its_literal_names_the_key():
    with pytest.raises(ConfigError, match=r"coop.switch: expected one of plain, calibrate, warmup, got 'fast'"):
        load_config("smoke", ["coop.switch=fast"])


@pytest.mark.parametrize("override", ["train.lr=nan", "train.lr=.nan", "train.lr=inf", "train.lr=-.inf",
                                      "model.lambda_nce=nan", "coop.step_size=inf", "coop.sigma=nan",
                                      "model.init_gain=-inf"])
def test_non_finite_numbers_are_refused(override):
    with pytest.raises(ConfigError) as err:
        load_config("cut", [override])
    assert f"{override.split('=')[0]}: expected a finite number" in str(err.value)


@pytest.mark.parametrize("overrides, message", [
    (["eval.features=clip"], "eval.features: expected one of inception, tiny, got 'clip'"),
    (["eval.metrics=[fid, sharpness]"], "eval.metrics[1]: expected one of fid, kid, lpips, gt, modes"),
    (["eval.best=[gt]"], "eval.best[0]: expected one of fid, kid, lpips, gt_l1"),  # a metric, not a figure
    (["eval.n_images=-1"], "eval.n_images: expected zero or more"),
    (["train.eval_every=-5"], "train.eval_every: expected zero or more"),
    (["eval.batch_size=0"], "eval.batch_size: expected a positive integer"),
    (["train.eval_every=2", "data.domain_a=/a", "data.domain_b=/b"], "two domain folders"),
    (["train.steps=10", "train.decay_steps=11"], "train.decay_steps (11) exceeds the total number of steps (10)"),
    (["coop.enabled=true", "coop.steps=5", "coop.switch=warmup", "coop.warmup_steps=1", "train.steps=6"],
     "coop.steps (5) + warm-up (1) must be less than the total number of steps (6)"),
])
def test_every_static_check_runs_as_the_config_loads(overrides, message):
    """The eval.* checks, and the run length where train.steps fixes it, no longer wait for the trainer."""
    with pytest.raises(ConfigError) as err:
        load_config("smoke", overrides)
    assert message in str(err.value)


def test_run_length_in_epochs_is_checked_once_known():
    from translate.config import check_coop_fits, check_decay

    cfg = load_config("coop_cut")  # 400 epochs, a tenth of them cooperative: the steps depend on the data
    check_coop_fits(cfg.coop, 1000)
    with pytest.raises(ConfigError, match="coop.steps"):
        check_coop_fits(cfg.coop, 1)
    with pytest.raises(ConfigError, match="exceeds"):
        check_decay(10, 20)
