"""Networks: MLPs, convolutional encoders/decoders, MADE, and the time-conditioned U-Net and
MLP of diffusion and flow matching, and ports of published networks with their weights read
without torch: the FID Inception-v3 and the FCD's ChemNet (flax.linen)."""

from .._torch_archive import ScriptObject as ScriptObject
from .._torch_archive import flat_tensors as flat_tensors
from .._torch_archive import read_torch_file as read_torch_file
from ._chemnet import CHEMNET_FEATURES as CHEMNET_FEATURES
from ._chemnet import CHEMNET_VOCAB as CHEMNET_VOCAB
from ._chemnet import ChemNet as ChemNet
from ._chemnet import TorchLSTM as TorchLSTM
from ._chemnet import fcd_same_padding as fcd_same_padding
from ._conv import ConvDecoder as ConvDecoder
from ._conv import ConvEncoder as ConvEncoder
from ._conv import conv_kernel_init as conv_kernel_init
from ._conv import depth_to_space as depth_to_space
from ._conv import space_to_depth as space_to_depth
from ._inception import INCEPTION_FEATURES as INCEPTION_FEATURES
from ._inception import INCEPTION_SIZE as INCEPTION_SIZE
from ._inception import InceptionV3FID as InceptionV3FID
from ._made import MADE as MADE
from ._maxout import Maxout as Maxout
from ._maxout import maxout as maxout
from ._mlp import MLP as MLP
from ._mlp import get_activation as get_activation
from ._norm import ConditionalBatchNorm as ConditionalBatchNorm
from ._norm import GroupedBatchNorm as GroupedBatchNorm
from ._patch_conv import PatchConv as PatchConv
from ._patch_conv import conv2d as conv2d
from ._precision import output_dtype as output_dtype
from ._precision import params_in as params_in
from ._spectral import SpectralConv as SpectralConv
from ._spectral import SpectralDense as SpectralDense
from ._spectral import SpectralEmbed as SpectralEmbed
from ._spectral import power_iteration as power_iteration
from ._unet import AttentionBlock as AttentionBlock
from ._unet import ResBlock as ResBlock
from ._unet import TimeLabelEmbedding as TimeLabelEmbedding
from ._unet import TimeMLP as TimeMLP
from ._unet import UNet as UNet
from ._unet import fourier_embedding as fourier_embedding
from ._unet import sinusoidal_embedding as sinusoidal_embedding
from ._upsample import SubpixelConvTranspose as SubpixelConvTranspose
from ._upsample import subpixel_kernel as subpixel_kernel
