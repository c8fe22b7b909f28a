"""ChemNet, the network of the Frechet ChemNet Distance (Preuer et al. 2018), as the ``fcd``
package ships it (``ChemNet_v0.13_pretrained.pt``): two strided 1-D convolutions with SELU over
one-hot SMILES, then two LSTMs that read the sequence backwards; the 512-d last state of the
second is what FCD compares.

Input: ``[B, L, 35]`` one-hot tokens divided by 35 (the ``fcd`` package's scaling), padded with
zero rows to ``L`` (350 by default); the LSTMs run over the padding too, as the original does.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

CHEMNET_VOCAB = 35
CHEMNET_FEATURES = 512

_HIGHEST = jax.lax.Precision.HIGHEST


def fcd_same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """The ``fcd`` package's ``SamePadding1d``: zeros before and after a sequence of ``length``.

    It is not TensorFlow's SAME: an even total is split as ``total // stride`` on each side.
    """
    if length % stride == 0:
        total = max(kernel - stride, 0)
    else:
        total = max(kernel - length % stride, 0)
    if total % stride == 0:
        return total // stride, total // stride
    return total // stride, total - total // stride


class TorchLSTM(nn.Module):
    """A one-layer LSTM with torch's parameters (gates ``i, f, g, o``; two biases), over
    ``[B, T, D]`` from zero state; returns every step's hidden state ``[B, T, H]``."""

    hidden: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        four = 4 * self.hidden
        w_ih = self.param("weight_ih", nn.initializers.zeros, (four, x.shape[-1]))
        w_hh = self.param("weight_hh", nn.initializers.zeros, (four, self.hidden))
        bias = (self.param("bias_ih", nn.initializers.zeros, (four,))
                + self.param("bias_hh", nn.initializers.zeros, (four,)))
        inputs = jnp.einsum("btd,gd->tbg", x, w_ih, precision=_HIGHEST) + bias  # [T, B, 4H]

        def step(carry, gates_in):
            h, c = carry
            gates = gates_in + jnp.dot(h, w_hh.T, precision=_HIGHEST)
            i, f, g, o = jnp.split(gates, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        zeros = jnp.zeros((x.shape[0], self.hidden), x.dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), inputs)
        return jnp.swapaxes(hs, 0, 1)


class ChemNet(nn.Module):
    """``[B, L, 35]`` scaled one-hot SMILES -> ``[B, 512]`` ChemNet activations."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim != 3 or x.shape[-1] != CHEMNET_VOCAB:
            raise ValueError(f"ChemNet takes [B, L, {CHEMNET_VOCAB}] one-hot SMILES, got "
                             f"{list(x.shape)}")
        for name in ("conv", "conv_1"):
            kernel = self.param(name, nn.initializers.zeros, (4, x.shape[-1], 32))
            x = jax.lax.conv_general_dilated(
                x, kernel, (2,), (fcd_same_padding(x.shape[1], 4, 2),),
                dimension_numbers=("NWC", "WIO", "NWC"), precision=_HIGHEST)
            x = jax.nn.selu(x)
        x = TorchLSTM(128, name="lstm")(x[:, ::-1])
        x = TorchLSTM(512, name="lstm_1")(x[:, ::-1])
        return x[:, -1]
