"""Normalizing-flow layers that distrax lacks, all ``distrax.Bijector`` subclasses.

Convention (distrax's): ``forward`` maps latent -> data (sampling), ``inverse`` maps data ->
latent (density evaluation), so every layer drops into ``distrax.Transformed`` and
``distrax.Chain``. Conditioners are closures over a Flax apply. Coupling masks mark *passive*
(unchanged, conditioning) coordinates with ``True``.

Layers:
  AffineCoupling, SplineCoupling   couplings that transform only the active coordinates
  MaskedAutoregressive             MAF / IAF with a MADE conditioner (gen_jax.nn.MADE)
  ActNorm, InvertibleConv1x1       Glow's per-channel layers (LU-decomposed 1x1 convolution)
  Squeeze, Permute                 volume-preserving reshuffles
  MultiScaleFlow                   Glow/RealNVP multi-scale architecture: flat latent <-> image
  Logit                            RealNVP's logit preprocessing of [0, 1] data
  Scan                             identical layers with stacked parameters, via lax.scan

Inside a Flax module (W1's flow; the couplings' parameters stacked on a leading axis)::

    class RealNVP(nn.Module):
        dim: int = 784
        num_layers: int = 8

        @nn.compact
        def __call__(self, x):  # [B, dim] -> log p(x) [B]
            half = self.dim // 2
            net = MLPConditioner(out_shape=(half, 2), hidden=(1024, 1024))
            stacked = self.param("couplings", lambda key: stacked_init(
                lambda k: net.init(k, jnp.zeros(half)), key, self.num_layers))
            block = lambda p: distrax.Chain([
                AffineCoupling(half_mask(self.dim), lambda h: net.apply(p, h)),
                Permute.reverse(self.dim)])
            z, log_det = Scan(block, stacked).inverse_and_log_det(x)
            return jnp.sum(jax.scipy.stats.norm.logpdf(z), -1) + log_det
"""

from ._autoregressive import MaskedAutoregressive as MaskedAutoregressive
from ._conditioners import ConvConditioner as ConvConditioner
from ._conditioners import MLPConditioner as MLPConditioner
from ._coupling import AffineCoupling as AffineCoupling
from ._coupling import Coupling as Coupling
from ._coupling import SplineCoupling as SplineCoupling
from ._glow import ActNorm as ActNorm
from ._glow import ActNormParams as ActNormParams
from ._glow import InvertibleConv1x1 as InvertibleConv1x1
from ._glow import LUConvParams as LUConvParams
from ._glow import actnorm_init as actnorm_init
from ._glow import lu_conv_init as lu_conv_init
from ._glow import lu_conv_weight as lu_conv_weight
from ._masks import Partition as Partition
from ._masks import channel_mask as channel_mask
from ._masks import checkerboard_mask as checkerboard_mask
from ._masks import half_mask as half_mask
from ._multiscale import MultiScaleFlow as MultiScaleFlow
from ._multiscale import multiscale_shapes as multiscale_shapes
from ._permute import Permute as Permute
from ._preprocess import Logit as Logit
from ._preprocess import logit_bits_per_dim as logit_bits_per_dim
from ._preprocess import uniform_dequantize as uniform_dequantize
from ._scan import Scan as Scan
from ._scan import stacked_init as stacked_init
from ._squeeze import Squeeze as Squeeze
from ._squeeze import squeeze as squeeze
from ._squeeze import unsqueeze as unsqueeze
from ._transformers import AffineTransformer as AffineTransformer
from ._transformers import SplineTransformer as SplineTransformer
from ._transformers import bounded_log_scale as bounded_log_scale
from ._transformers import spline_num_params as spline_num_params
