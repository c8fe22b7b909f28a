"""pix2pix and CycleGAN: their losses against hand-computed values, the cycle loss of an
inverse pair of generators, the image history, the networks' shapes and the checks of a pair."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.data import DatasetInfo
from gen_jax.models import translation as tr

DIGITS8 = DatasetInfo("digits", (8, 8, 1), 10, 17, {"train": 1797, "test": 0})
COLOUR8 = DatasetInfo("colour", (8, 8, 3), 10, 256, {"train": 100, "test": 0})
PAIRED = dataclasses.replace(DIGITS8, target=DIGITS8, paired=True)
UNPAIRED = dataclasses.replace(DIGITS8, target=COLOUR8)


def _softplus(v):
    return np.log1p(np.exp(v))


def test_patch_losses_match_their_formulas():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(3, 2, 2)), rng.normal(size=(3, 2, 2))
    # the halved cross-entropy (pix2pix) and least squares (CycleGAN)
    np.testing.assert_allclose(
        tr.patch_discriminator_loss("non_saturating", real, fake),
        0.5 * (np.mean(_softplus(-real)) + np.mean(_softplus(fake))), rtol=1e-6)
    np.testing.assert_allclose(tr.patch_generator_loss("non_saturating", fake),
                               np.mean(_softplus(-fake)), rtol=1e-6)
    np.testing.assert_allclose(tr.patch_discriminator_loss("lsgan", real, fake),
                               0.5 * (np.mean((real - 1) ** 2) + np.mean(fake**2)), rtol=1e-6)
    np.testing.assert_allclose(tr.patch_generator_loss("lsgan", fake),
                               np.mean((fake - 1) ** 2), rtol=1e-6)
    # at logits 0: log 2 for each cross-entropy term; 1/2 and 1 for least squares
    zero = jnp.zeros((1, 2, 2))
    np.testing.assert_allclose(tr.patch_discriminator_loss("non_saturating", zero, zero),
                               np.log(2), rtol=1e-6)
    assert float(tr.patch_discriminator_loss("lsgan", zero, zero)) == 0.5
    with pytest.raises(ValueError, match="unknown gan_loss"):
        tr.patch_generator_loss("hinge", zero)


class _Fixed(tr.CycleGAN):
    """CycleGAN whose generators are fixed maps of the [-1, 1] images (``g``, ``f``)."""

    def __init__(self, g, f, **config):
        super().__init__(tr.CycleGANConfig(generator="unet", g_features=4, depth=1,
                                           d_features=4, d_layers=1, **config),
                         dataclasses.replace(DIGITS8, target=DIGITS8))
        self._maps = {id(self.g): g, id(self.f): f}

    def _gen(self, net, params, x, key):
        return self._maps[id(net)](x)


def _terms(model, x, y):
    variables = model.init(jax.random.PRNGKey(0), {"x": x, "y": y})
    params = variables["params"]
    return model._generator_terms(params["generator"], params["discriminator"],
                                  tr._common.signed(x), tr._common.signed(y), None)


def test_the_cycle_loss_is_zero_for_an_inverse_pair_and_hand_computed_otherwise():
    x = jax.random.uniform(jax.random.PRNGKey(1), (4, 8, 8, 1))
    y = jax.random.uniform(jax.random.PRNGKey(2), (4, 8, 8, 1))
    # identity generators, and a negation that is its own inverse: no cycle loss
    for g in (lambda v: v, lambda v: -v):
        _, terms = _terms(_Fixed(g, g, identity_weight=0.5), x, y)
        assert float(terms["cycle"]) == 0.0
    _, terms = _terms(_Fixed(lambda v: v, lambda v: v, identity_weight=0.5), x, y)
    assert float(terms["identity"]) == 0.0
    # G = F = v / 2 (on [-1, 1]): F(G(v)) = v / 4, so the cycle loss is (3/4) mean|v| per side
    total, terms = _terms(_Fixed(lambda v: v / 2, lambda v: v / 2), x, y)
    sx, sy = 2 * np.asarray(x) - 1, 2 * np.asarray(y) - 1
    expected = 0.75 * (np.mean(np.abs(sx)) + np.mean(np.abs(sy)))
    np.testing.assert_allclose(terms["cycle"], expected, rtol=1e-5)
    np.testing.assert_allclose(
        total, terms["g_adv_x"] + terms["g_adv_y"] + 10.0 * expected, rtol=1e-5)


def test_pix2pix_objective_is_adversarial_plus_weighted_l1():
    model = tr.Pix2Pix(tr.Pix2PixConfig(g_features=4, depth=2, d_features=4, d_layers=1,
                                        l1_weight=7.0), PAIRED)
    x = jax.random.uniform(jax.random.PRNGKey(1), (3, 8, 8, 1))
    y = jax.random.uniform(jax.random.PRNGKey(2), (3, 8, 8, 1))
    variables = model.init(jax.random.PRNGKey(0), {"x": x, "y": y})
    loss, (terms, _) = model.loss(variables, {"x": x, "y": y}, jax.random.PRNGKey(3),
                                  train=False)
    out = model.translate(variables, x)
    l1 = np.mean(np.abs((2 * out - 1) - (2 * y - 1)))  # on the [-1, 1] scale
    np.testing.assert_allclose(terms["l1"], l1, rtol=1e-5)
    np.testing.assert_allclose(loss, terms["g_adv"] + 7.0 * l1, rtol=1e-5)
    metrics = model.evaluate(variables, {"x": x, "y": y}, None)
    np.testing.assert_allclose(metrics["l1"], np.mean(np.abs(out - y), axis=(1, 2, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(metrics["psnr"], -10 * np.log10(metrics["mse"]), rtol=1e-5)


def test_the_history_fills_then_swaps_half_its_images():
    history = tr.history_init(4, (1,))
    first = jnp.arange(3.0)[:, None]
    out, history = tr.history_query(history, first, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, first)  # not full: passed on and stored
    assert int(history["count"]) == 3
    np.testing.assert_array_equal(history["images"][:3], first)
    swapped, query = 0, jax.jit(tr.history_query)
    for i in range(50):  # full: each image passed on, or swapped for a stored one
        before = set(np.asarray(history["images"])[:, 0].tolist())
        new = jnp.asarray([[10.0 + 2 * i], [11.0 + 2 * i]])
        out, history = query(history, new, jax.random.PRNGKey(i + 1))
        after = set(np.asarray(history["images"])[:, 0].tolist())
        # nothing is lost or made up: what goes out and what stays is what there was
        assert sorted(before | set(new[:, 0].tolist())) == sorted(
            after | set(np.asarray(out)[:, 0].tolist()))
        swapped += int(np.sum(np.asarray(out) != np.asarray(new)))
    assert int(history["count"]) == 4
    assert 30 < swapped < 70  # about half of 100 (binomial sd 5)
    empty = tr.history_init(0, (1,))
    np.testing.assert_array_equal(tr.history_query(empty, first, jax.random.PRNGKey(0))[0],
                                  first)


@pytest.mark.parametrize(("net", "shape"), [
    (tr.UNetGenerator(3, features=4, depth=3), (2, 8, 8, 3)),
    (tr.ResNetGenerator(3, features=4, depth=2, blocks=2), (2, 8, 8, 3)),
    (tr.PatchDiscriminator(features=4, layers=2), (2, 2, 2)),
])
def test_network_shapes(net, shape):
    x = jax.ShapeDtypeStruct((2, 8, 8, 1), jnp.float32)
    kwargs = {} if isinstance(net, tr.PatchDiscriminator) else {"train": False}
    variables = jax.eval_shape(lambda v: net.init(jax.random.PRNGKey(0), v, **kwargs), x)
    assert jax.eval_shape(lambda p, v: net.apply(p, v, **kwargs), variables, x).shape == shape


@pytest.mark.parametrize(("build", "info", "message"), [
    (lambda i: tr.Pix2Pix(tr.Pix2PixConfig(depth=4), i), PAIRED, "do not halve 4 times"),
    (lambda i: tr.CycleGAN(tr.CycleGANConfig(identity_weight=0.5), i), UNPAIRED,
     "set model.identity_weight 0"),
    (lambda i: tr.CycleGAN(tr.CycleGANConfig(), i),
     dataclasses.replace(DIGITS8, target=DatasetInfo("big", (16, 16, 1), 0, 256)),
     "use domains of one size"),
    (lambda i: tr.CycleGAN(tr.CycleGANConfig(), i),
     dataclasses.replace(DIGITS8, target=DatasetInfo("points", (2,), 0, None)),
     "translates images"),
    (lambda i: tr.Pix2Pix(tr.Pix2PixConfig(gan_loss="hinge"), i), PAIRED, "gan_loss"),
])
def test_pairs_and_settings_that_do_not_fit_are_refused_in_one_line(build, info, message):
    with pytest.raises(ValueError, match=message):
        build(info)
