"""The options of issue 23 ("levers"): each off by default, each changing what it claims when on.

Generator: model.n_downsampling, model.g_skip.
"""
from __future__ import annotations

import pytest
import torch

from translate.config import load_config
from translate.errors import ConfigError
from translate.models.cut import build_model
from translate.models.networks import ResnetGenerator


def tiny_g(**kw) -> ResnetGenerator:
    torch.manual_seed(0)
    return ResnetGenerator(ngf=8, n_blocks=2, **kw)


@pytest.mark.parametrize("n_down", [1, 2])
@pytest.mark.parametrize("skip", ["none", "add", "concat"])
@pytest.mark.parametrize("antialias", [True, False])
def test_generator_variants_keep_the_image_size_and_name_their_layers(n_down, skip, antialias):
    g = tiny_g(n_downsampling=n_down, skip=skip, antialias=antialias, antialias_up=antialias)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    roles = list(g.roles)
    y, feats = g(x, roles)
    assert y.shape == x.shape and g.multiple == 2**n_down
    assert roles == ["input", *[f"down{i}" for i in range(1, n_down + 1)], "block1", "block2"]
    assert [f.shape[1] for f in feats] == g.feature_channels(roles)
    assert feats[-1].shape[-1] == 16 // 2**n_down  # the trunk's resolution
    for f, e in zip(feats, g.encode(x, roles)):
        torch.testing.assert_close(f, e)
    torch.testing.assert_close(y, g(x))


def test_one_downsampling_has_no_down2_and_the_config_says_so_in_one_line():
    g = tiny_g(n_downsampling=1)
    with pytest.raises(ValueError, match="down2"):
        g.encode(torch.randn(1, 3, 16, 16), ["down2"])
    with pytest.raises(ConfigError) as err:
        load_config("smoke", ["model.n_downsampling=1"])  # smoke's nce_layers name down2
    assert "model.nce_layers: unknown layer 'down2' with model.n_downsampling=1" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="model.n_downsampling: expected 1 or 2"):
        load_config("smoke", ["model.n_downsampling=3"])
    cfg = load_config("smoke", ["model.n_downsampling=1", "model.nce_layers=[input, down1, block1, block2]"])
    assert build_model(cfg.model).G.n_downsampling == 1


def test_skip_connections_carry_the_encoder_to_the_decoder():
    """add: the same parameters as the plain G, but the decoder also sees the encoder's stages, so the output
    differs on the same weights; concat widens the decoder. Defaults build the reference's G."""
    plain, added, cat = tiny_g(), tiny_g(skip="add"), tiny_g(skip="concat")
    added.load_state_dict(plain.state_dict())  # same names and shapes
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert not torch.allclose(plain(x), added(x))
    assert sum(p.numel() for p in cat.parameters()) > sum(p.numel() for p in plain.parameters())
    cfg = load_config("smoke")
    G = build_model(cfg.model).G
    assert (G.n_downsampling, G.skip) == (2, "none")
    assert build_model(load_config("smoke", ["model.g_skip=concat"]).model).G.skip == "concat"
