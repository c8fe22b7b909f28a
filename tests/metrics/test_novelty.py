"""Authenticity, memorized fraction and closest pairs."""

import numpy as np
import pytest

from gen_jax.metrics import memorization_panel, novelty

from . import _reference as ref


def _train_and_generated(seed=0):
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(90, 8)).astype(np.float32)
    gen = (rng.normal(size=(41, 8)) * 1.1).astype(np.float32)
    return train, gen


def test_matches_brute_force_with_several_blocks():
    train, gen = _train_and_generated()
    got = novelty(train, gen, num_pairs=5, block_size=16)  # 90 = 5 x 16 + 10, 41 = 2 x 16 + 9
    want = ref.novelty(train, gen)
    np.testing.assert_allclose(got.authenticity, want["authenticity"], rtol=1e-6)
    np.testing.assert_allclose(got.memorized_fraction, want["memorized_fraction"], rtol=1e-6)
    np.testing.assert_array_equal(got.nearest_index, want["nearest_index"])
    np.testing.assert_allclose(got.nearest_distance, want["nearest_distance"], rtol=1e-4)
    order = np.argsort(want["nearest_distance"])[:5]
    np.testing.assert_array_equal(got.pair_generated, order)
    np.testing.assert_array_equal(got.pair_train, want["nearest_index"][order])
    assert 0.0 < float(got.memorized_fraction) < 1.0
    # every non-authentic sample is also memorized
    assert float(got.memorized_fraction) >= 1.0 - float(got.authenticity)


def test_a_copied_training_example_is_detected_and_listed_first():
    train, gen = _train_and_generated(1)
    far = gen * 0.0 + 50.0 + np.arange(gen.shape[0], dtype=np.float32)[:, None]  # all novel
    clean = novelty(train, far, num_pairs=3)
    assert float(clean.authenticity) == 1.0 and float(clean.memorized_fraction) == 0.0
    copied = far.copy()
    copied[17] = train[42] + 1e-4  # a near-exact copy of training example 42
    out = novelty(train, copied, num_pairs=3)
    assert int(out.pair_generated[0]) == 17 and int(out.pair_train[0]) == 42
    assert float(out.pair_distance[0]) < 1e-2
    n = copied.shape[0]
    np.testing.assert_allclose(out.authenticity, (n - 1) / n)
    np.testing.assert_allclose(out.memorized_fraction, 1 / n)


def test_panel_puts_generated_over_their_training_match():
    rng = np.random.default_rng(2)
    train_images = rng.uniform(size=(20, 4, 4, 1)).astype(np.float32)
    gen_images = train_images[[3, 7, 11]] * 0.999
    out = novelty(train_images.reshape(20, -1), gen_images.reshape(3, -1), num_pairs=3)
    panel = memorization_panel(gen_images, train_images, out, pad=1)
    assert panel.shape == (2 * 5 + 1, 3 * 5 + 1, 1) and panel.dtype == np.uint8
    first = int(out.pair_generated[0])
    top = panel[1:5, 1:5, 0]
    below = panel[6:10, 1:5, 0]
    np.testing.assert_allclose(top, np.round(gen_images[first, ..., 0] * 255), atol=1)
    np.testing.assert_allclose(below, np.round(train_images[[3, 7, 11][first], ..., 0] * 255),
                               atol=1)


def test_bad_num_pairs():
    train, gen = _train_and_generated()
    with pytest.raises(ValueError, match=r"num_pairs=42 must be in 0\.\.41"):
        novelty(train, gen, num_pairs=42)
