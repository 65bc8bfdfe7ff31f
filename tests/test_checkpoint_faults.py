"""Untrusted checkpoints (issue 11): a config that is not a mapping, foreign weights, and architecture sizes
beyond sane bounds are refused in one line naming the file, before any network is built, in apply, eval
and the demo alike (all of them read through translate.runfolder.schema)."""
import pytest
import torch

from translate.config import config_to_dict, load_config
from translate.errors import CheckpointError
from translate.runfolder.schema import read_checkpoint_info
from translate.runfolder.translator import load_translator


def _smoke_config() -> dict:
    return config_to_dict(load_config("smoke", ["dataset=demo", "train.device=cpu"]))


def _write(path, config, models=None):
    torch.save({"format": 1, "stage": "cut", "step": 1, "config": config, "models": models or {"G": {}}}, path)
    return path


@pytest.mark.parametrize("key, value", [("ngf", 65536), ("ndf", 100_000), ("n_blocks", 10_000),
                                        ("n_layers_d", 40), ("num_patches", 10**9), ("netf_nc", 10**6)])
def test_architecture_beyond_bounds_is_refused_before_building(tmp_path, monkeypatch, key, value):
    import translate.models.cut as cut

    monkeypatch.setattr(cut, "build_generator", lambda m: pytest.fail("built G from an unchecked config"))
    config = _smoke_config()
    config["model"][key] = value
    path = _write(tmp_path / "big.pt", config)
    for read in (lambda: load_translator(path), lambda: read_checkpoint_info(path, "big")):
        with pytest.raises(CheckpointError) as err:
            read()
        assert "big.pt" in str(err.value) and f"model.{key}={value}" in str(err.value)


@pytest.mark.parametrize("section, key, value", [("data", "crop_size", 10**6), ("data", "load_size", 10**6)])
def test_crop_sizes_beyond_bounds_are_refused(tmp_path, section, key, value):
    config = _smoke_config()
    config[section][key] = value
    with pytest.raises(CheckpointError, match=f"{section}.{key}={value}"):
        load_translator(_write(tmp_path / "big.pt", config))


@pytest.mark.parametrize("config", ["a string", [1, 2, 3], 42, None])
def test_a_config_that_is_not_a_mapping_names_the_file(tmp_path, config):
    path = _write(tmp_path / "odd.pt", config)
    for read in (lambda: load_translator(path), lambda: read_checkpoint_info(path, "odd")):
        with pytest.raises(CheckpointError, match="odd.pt': its config is a"):
            read()


@pytest.mark.parametrize("weights", [{"conv.weight": torch.ones(3)}, "not weights", {}])
def test_foreign_generator_weights_name_the_file(tmp_path, weights):
    path = _write(tmp_path / "foreign.pt", _smoke_config(), {"G": weights})
    with pytest.raises(CheckpointError, match="foreign.pt': its G weights"):
        load_translator(path)


def test_foreign_weights_of_the_right_names_but_other_shapes(tmp_path):
    from translate.models.cut import build_generator

    wide = load_config("smoke", ["model.ngf=16"])
    path = _write(tmp_path / "shapes.pt", _smoke_config(), {"G": build_generator(wide.model).state_dict()})
    with pytest.raises(CheckpointError, match="of another shape"):
        load_translator(path)


@pytest.mark.parametrize("command", ["apply", "eval"])
def test_cli_refuses_a_huge_checkpoint_in_one_line(tmp_path, capsys, command):
    from translate.cli import main

    config = _smoke_config()
    config["model"]["ngf"] = 65536
    path = _write(tmp_path / "big.pt", config)
    (tmp_path / "in").mkdir()
    args = {"apply": ["apply", "--ckpt", str(path), str(tmp_path / "in"), "--out", str(tmp_path / "out")],
            "eval": ["eval", "--ckpt", str(path), "--features", "tiny", "--out", str(tmp_path / "ev")]}[command]
    rc = main(args)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and "Traceback" not in err, err
    assert lines[-1].startswith("error: ") and "model.ngf=65536" in lines[-1] and "big.pt" in lines[-1]
