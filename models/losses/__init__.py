"""Loss functions: PatchNCE (Park et al., ECCV 2020) and the GAN objectives."""
from translate.models.losses.gan import GAN_MODES, gan_loss
from translate.models.losses.patchnce import multilayer_nce_loss, patchnce_loss

__all__ = ["GAN_MODES", "gan_loss", "multilayer_nce_loss", "patchnce_loss"]
