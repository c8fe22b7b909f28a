"""``gen-jax reconstruct`` and ``gen-jax interpolate``: a trained run's encoder at work.

``reconstruct`` shows examples of a split beside their reconstructions (families with the
:class:`~gen_jax.models.Reconstruction` capability: autoencoder, VAE, PPCA);
``interpolate`` walks the latent space between pairs of examples (families with
:class:`~gen_jax.models.LatentCode`: autoencoder, VAE, PPCA and the flows, whose latent point
is exact).
"""

from ._commands import interpolate_main as interpolate_main
from ._commands import reconstruct_main as reconstruct_main
from ._latent import interpolate as interpolate
from ._latent import latent_path as latent_path
from ._latent import reconstruct as reconstruct
