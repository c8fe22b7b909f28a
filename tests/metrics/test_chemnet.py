"""The FCD's ChemNet port against the ``fcd`` package's outputs, and its input encoding."""

import jax
import numpy as np
import pytest

from gen_jax import metrics
from gen_jax.nn import TorchLSTM, fcd_same_padding


@pytest.fixture(scope="module")
def chemnet_file(models_dir):
    return models_dir / "chemnet" / "ChemNet_v0.13_pretrained.pt"


def test_activations_match_the_fcd_package(chemnet_file, models_dir):
    reference = np.load(models_dir / "chemnet" / "reference_activations.npz")
    chemnet = metrics.load_chemnet(chemnet_file, batch_size=48)  # two calls, the last padded
    got = chemnet.features(list(reference["smiles"]))
    want = reference["activations"]
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())
    smiles = list(reference["smiles"])
    assert metrics.frechet_chemnet_distance(chemnet, smiles, smiles) == pytest.approx(0, abs=1e-4)
    stats = metrics.feature_statistics(want)
    assert metrics.frechet_chemnet_distance(chemnet, smiles[:32], stats) > 0.1


def test_tokens_and_one_hot_rows_follow_the_fcd_package():
    assert metrics.fcd_tokens("Clc1ccc(Br)[nH]1") == [
        "Cl", "c", "1", "c", "c", "c", "(", "Br", ")", "[", "n", "H", "]", "1"]
    x = metrics.fcd_one_hot(["CZ", "C" * 400])
    assert x.shape == (2, 401, 35)  # the longest SMILES plus its end token beats 350
    vocab = metrics.FCD_VOCAB
    first = np.argmax(x[0, :3], axis=-1)
    assert [vocab[i] for i in first] == ["C", "X", "."]  # unknown Z, then the end token
    np.testing.assert_allclose(x[0].sum(axis=-1)[:3], 1 / 35)
    assert not x[0, 3:].any()  # zero padding


@pytest.mark.parametrize(("length", "want"), [(350, (1, 1)), (175, (1, 2)), (9, (1, 2))])
def test_same_padding_is_the_fcd_packages(length, want):
    # SamePadding1d(kernel 4, stride 2): even lengths pad 2 split as 2 // 2 on each side; odd
    # lengths pad 4 - 1 = 3 as (3 // 2, 3 - 3 // 2)
    assert fcd_same_padding(length, 4, 2) == want


def test_torch_lstm_against_a_numpy_loop():
    rng = np.random.default_rng(0)
    params = {"weight_ih": rng.normal(0, 0.3, (8, 3)), "weight_hh": rng.normal(0, 0.3, (8, 2)),
              "bias_ih": rng.normal(0, 0.3, 8), "bias_hh": rng.normal(0, 0.3, 8)}
    x = rng.normal(size=(2, 5, 3))
    with jax.enable_x64():
        got = np.asarray(TorchLSTM(2).apply({"params": params}, x))
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c, want = np.zeros((2, 2)), np.zeros((2, 2)), []
    for t in range(5):
        gates = x[:, t] @ params["weight_ih"].T + h @ params["weight_hh"].T + params["bias_ih"] \
            + params["bias_hh"]
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        want.append(h)
    np.testing.assert_allclose(got, np.stack(want, axis=1), rtol=1e-12)


def test_bad_weights_and_bad_smiles_get_one_line(models_dir, chemnet_file, tmp_path,
                                                 monkeypatch):
    with pytest.raises(ValueError, match="is not the FCD ChemNet"):
        metrics.chemnet_params(models_dir / "inception_fid" / "default_1.pt")
    with pytest.raises(FileNotFoundError, match="pip download --no-deps fcd"):
        metrics.chemnet_params(tmp_path / "missing.pt")
    monkeypatch.delenv("GEN_JAX_CHEMNET_WEIGHTS", raising=False)
    monkeypatch.setattr("importlib.metadata.distribution",
                        lambda name: (_ for _ in ()).throw(
                            __import__("importlib.metadata").metadata.PackageNotFoundError()))
    with pytest.raises(FileNotFoundError, match="fcd==1.2.2"):
        metrics.locate_chemnet()
    chemnet = metrics.ChemNetFeatures(metrics.chemnet_params(chemnet_file))
    with pytest.raises(ValueError, match="non-empty SMILES"):
        chemnet.features(["CCO", ""])


def test_fcd_torch_encoding_reads_two_letters_by_the_next_one_and_cuts_at_350():
    x = metrics.fcd_torch_one_hot(["CCl[Li]", "C" * 400])
    vocab = metrics.FCD_VOCAB
    assert [vocab[i] for i in np.argmax(x[0, :6], axis=-1)] == ["C", "Cl", "[", "X", "]", "."]
    assert x.shape == (2, 350, 35) and np.argmax(x[1, 349]) == vocab.index(".")
    # the fcd package reads [Li] as two unknown symbols
    y = metrics.fcd_one_hot(["CCl[Li]"])
    assert [vocab[i] for i in np.argmax(y[0, :7], axis=-1)] == ["C", "Cl", "[", "X", "X", "]",
                                                                "."]
