"""Networks: MLPs, convolutional encoders/decoders and MADE (flax.linen)."""

from ._conv import ConvDecoder as ConvDecoder
from ._conv import ConvEncoder as ConvEncoder
from ._conv import conv_kernel_init as conv_kernel_init
from ._conv import depth_to_space as depth_to_space
from ._conv import space_to_depth as space_to_depth
from ._made import MADE as MADE
from ._mlp import MLP as MLP
from ._mlp import get_activation as get_activation
from ._patch_conv import PatchConv as PatchConv
from ._patch_conv import conv2d as conv2d
