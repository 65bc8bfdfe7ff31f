"""benchmarks/mask_stats.py: the mask a masked G (model.g_mask) opens, read from CUT's G and SANTA's."""
from __future__ import annotations

import pytest
import torch

from benchmark_scripts import load_benchmark
from translate.errors import TranslateError
from translate.models.networks import ResnetGenerator
from translate.models.networks.santa_generator import SantaGenerator


@pytest.mark.parametrize("kind", ["cut", "cut_skip", "santa"])
def test_mask_of_reads_the_mask_that_blends_the_output(kind):
    stats = load_benchmark("mask_stats")
    torch.manual_seed(0)
    G = {"cut": lambda: ResnetGenerator(ngf=8, n_blocks=2, mask=True),
         "cut_skip": lambda: ResnetGenerator(ngf=8, n_blocks=2, mask=True, skip="add"),
         "santa": lambda: SantaGenerator(ngf=8, n_blocks=2, n_downsampling=1, mask=True)}[kind]().eval()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    m = stats.mask_of(G, x)
    assert m.shape == (2, 1, 16, 16) and 0 < float(m.min()) and float(m.max()) < 1
    with torch.no_grad():
        y = G(x)
    last = G.out[1] if kind == "santa" else G.decoder[-1]
    with torch.no_grad():
        last.bias[3] = -1e4
    assert float(stats.mask_of(G, x).max()) < 1e-6
    with torch.no_grad():
        torch.testing.assert_close(G(x), x)
    assert not torch.allclose(y, x)


def test_a_g_without_a_mask_is_a_one_line_error():
    stats = load_benchmark("mask_stats")
    with pytest.raises(TranslateError, match="no mask"):
        stats.mask_of(ResnetGenerator(ngf=8, n_blocks=1), torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="no mask"):
        SantaGenerator(ngf=8, n_blocks=2).translation_mask(torch.zeros(1, 3, 16, 16))


def test_halo_is_the_ring_next_to_the_object_and_its_repainted_share():
    stats = load_benchmark("mask_stats")
    objects = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    objects[..., 3:5, 3:5] = True
    halo = stats.ring(objects, 1)
    assert int(halo.sum()) == 16 - 4 and not (halo & objects).any()  # the 4x4 square around, less the object
    assert int(stats.ring(objects, 2).sum()) == 36 - 4
    background = -torch.ones(1, 3, 8, 8)
    image = background.clone()
    image[..., 2, 2:6] = 1.0  # the halo's top row (4 of its 12 pixels) repainted
    assert stats.halo_share(image, background, halo) == pytest.approx(4 / 12)
    assert stats.halo_share(background, background, halo) == 0.0
