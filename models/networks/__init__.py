"""Networks of CUT/FastCUT (Park et al., ECCV 2020): generator G, PatchGAN D, patch sampler F."""
from translate.models.networks.blur import Downsample, Upsample
from translate.models.networks.discriminator import MultiScaleDiscriminator, PatchDiscriminator
from translate.models.networks.generator import ResnetBlock, ResnetGenerator
from translate.models.networks.init import init_weights
from translate.models.networks.patch_sampler import PatchSampler, l2_normalize

__all__ = [
    "Downsample",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "PatchSampler",
    "ResnetBlock",
    "ResnetGenerator",
    "Upsample",
    "init_weights",
    "l2_normalize",
]
