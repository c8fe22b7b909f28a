"""Image-to-image translation across two domains: pix2pix (paired) and CycleGAN (unpaired)."""

from ._common import NetworksConfig as NetworksConfig
from ._common import check_pair as check_pair
from ._cyclegan import CycleGAN as CycleGAN
from ._cyclegan import CycleGANConfig as CycleGANConfig
from ._cyclegan import build_cyclegan as build_cyclegan
from ._losses import GAN_LOSSES as GAN_LOSSES
from ._losses import cycle_loss as cycle_loss
from ._losses import history_init as history_init
from ._losses import history_query as history_query
from ._losses import patch_discriminator_loss as patch_discriminator_loss
from ._losses import patch_generator_loss as patch_generator_loss
from ._nets import PatchDiscriminator as PatchDiscriminator
from ._nets import ResNetGenerator as ResNetGenerator
from ._nets import UNetGenerator as UNetGenerator
from ._pix2pix import Pix2Pix as Pix2Pix
from ._pix2pix import Pix2PixConfig as Pix2PixConfig
from ._pix2pix import build_pix2pix as build_pix2pix
