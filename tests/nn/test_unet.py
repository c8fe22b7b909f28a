"""The time-conditioned U-Net and MLP: shapes, the embeddings' formulas, independence of the
examples in a batch (which the ODE likelihood's Jacobian products rely on), conditioning and
dropout."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nn import TimeMLP, UNet, fourier_embedding, sinusoidal_embedding

TINY = dict(channels=8, channel_mult=(1, 2), num_res_blocks=1, attention_resolutions=(4,),
            num_heads=2, num_groups=4)


def _perturbed(variables, scale=0.2):
    """Parameters moved off their (partly zero) initial values, so every path matters."""
    rng = np.random.default_rng(9)  # numpy: no compile per leaf shape
    return jax.tree.map(lambda v: v + scale * rng.standard_normal(v.shape, np.float32),
                        variables)


def test_sinusoidal_embedding_formula():
    t = jnp.array([0.0, 3.0, 999.0])
    emb = sinusoidal_embedding(t, 6)
    freqs = np.exp(-math.log(10_000) * np.arange(3) / 3)
    want = np.concatenate([np.cos(t[:, None] * freqs), np.sin(t[:, None] * freqs)], axis=1)
    np.testing.assert_allclose(emb, want, rtol=1e-5, atol=1e-5)
    assert fourier_embedding(t, 6).shape == (3, 6)
    np.testing.assert_allclose(fourier_embedding(t, 6), fourier_embedding(t, 6))  # constants


@pytest.mark.parametrize("net, shape", [(UNet(**TINY, num_classes=3, dropout=0.5), (8, 8, 1)),
                                        (TimeMLP(hidden=(16, 16), num_classes=3, dropout=0.5),
                                         (5,))])
def test_examples_do_not_mix_labels_condition_and_dropout_trains_only(net, shape):
    x = jax.random.normal(jax.random.PRNGKey(0), (4, *shape))
    t, label = jnp.array([1.0, 200.0, 500.0, 999.0]), jnp.array([0, 1, 2, 3])
    variables = _perturbed(jax.jit(net.init)(jax.random.PRNGKey(1), x, t, label))
    apply = jax.jit(net.apply, static_argnames="train")
    out = apply(variables, x, t, label)
    assert out.shape == x.shape and out.dtype == jnp.float32
    # example 0's output does not depend on the others
    other = x.at[1:].set(jax.random.normal(jax.random.PRNGKey(2), x[1:].shape))
    np.testing.assert_allclose(apply(variables, other, t, label)[0], out[0], rtol=1e-5,
                               atol=1e-5)
    # the label (3 is the null label) and the time both change the output
    assert not np.allclose(apply(variables, x, t, jnp.array([3, 1, 2, 3]))[0], out[0])
    assert not np.allclose(apply(variables, x, t + 50.0, label)[0], out[0])
    with pytest.raises(ValueError, match="pass labels"):
        net.apply(variables, x, t)
    # dropout only in training
    np.testing.assert_array_equal(out, apply(variables, x, t, label))
    dropped = apply(variables, x, t, label, train=True, rngs={"dropout": jax.random.PRNGKey(1)})
    assert not np.allclose(out, dropped)
    if isinstance(net, UNet):  # attention at 4x4: one block down, one in the middle, two up
        names = set(variables["params"])
        assert sum(n.startswith("AttentionBlock") for n in names) == 1 + 1 + 2
