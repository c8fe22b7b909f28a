"""Molecule data sets as token sequences: tokens back to the raw SMILES, the fixed vocabularies,
and a raw file that does not match its set's definition."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("rdkit", reason="the molecules extra is not installed")

from gen_jax import data  # noqa: E402
from gen_jax.data import _molecules  # noqa: E402


def test_qm9_test_split_decodes_to_its_raw_smiles(raw_dir, tfds_dir):
    ds = data.load("qm9", "test", data_dir=raw_dir, tfds_dir=tfds_dir)
    spec = data.MOLECULE_SETS["qm9"]
    assert ds.x.dtype == np.uint8 and ds.x.shape == (13_388, 24) and ds.label is None
    assert ds.info.vocabulary == spec.vocabulary.tokens and ds.info.num_levels == 23
    raw = data.read_smiles(raw_dir / "qm9" / "qm9.csv")
    order = np.random.default_rng(0).permutation(len(raw))
    want = [raw[i] for i in np.sort(order[:13_388])]
    assert spec.vocabulary.decode(ds.x) == want
    assert (ds.x[:, 0] == 1).all() and ((ds.x == 2).sum(1) == 1).all()
    again = data.load("qm9", "test", data_dir=raw_dir, tfds_dir=tfds_dir, size=5)  # prepared
    np.testing.assert_array_equal(again.x, ds.x[:5])


def test_a_raw_file_that_gives_other_counts_is_refused(raw_dir, tmp_path):
    spec = dataclasses.replace(data.MOLECULE_SETS["qm9"], name="qm9_changed",
                               splits={"train": 1, "test": 1})
    with pytest.raises(data.DataError, match="13388 molecules encode .* the set has 1"):
        _molecules.prepare_molecules(spec, "test", data_dir=raw_dir, tfds_dir=tmp_path)
    with pytest.raises(data.DataError, match="set \\$GEN_JAX_DATA_DIR"):
        _molecules.prepare_molecules(spec, "test", tfds_dir=tmp_path)


def test_invalid_and_over_long_molecules_are_skipped_and_counted():
    vocab = data.Vocabulary(data.SPECIALS + ("C", "O", "N", "(", ")", "=", "1"), "smiles", 5)
    encoded = data.encode_molecules(["CCO", "C1CC", "CCCCCC", "", "C1CC1"], vocab)
    assert encoded.strings == ["CCO", "C1CC1"] and encoded.invalid == 2
    assert encoded.too_long == 1
    assert vocab.decode(encoded.x) == ["CCO", "C1CC1"]
    selfies = data.Vocabulary.build([data.tokenize_selfies(data.to_selfies("CCO"))], "selfies")
    assert data.encode_molecules(["OCC"], selfies).strings == ["[O][C][C]"]


def test_a_users_smiles_file_is_own_data(tmp_path):
    smiles = ["CCO", "c1ccccc1", "CC(=O)N", "C1CC", "CCN", "OCC(O)CO", "c1ccncc1", "CCCl"] * 3
    (tmp_path / "mols.smi").write_text("smiles\n" + "\n".join(smiles) + "\n")
    with pytest.warns(UserWarning, match="3 of 24 SMILES are invalid and were skipped "
                                         "\\(the first: 'C1CC'\\)"):
        own = data.open_own(tmp_path / "mols.smi", tfds_dir=tmp_path / "tfds")
    assert own.kind == "molecules" and own.info.vocabulary[:3] == data.SPECIALS
    assert sum(own.info.splits.values()) == 21 and own.info.num_levels == len(own.info.vocabulary)
    vocab = data.Vocabulary(own.info.vocabulary, "smiles", own.info.shape[0] - 2)
    train = data.load_own(own, "train")
    assert train.x.dtype == np.uint8 and set(vocab.decode(train.x)) <= set(smiles)
    (tmp_path / "new.csv").write_text("id,SMILES\n1,CCO\n2,CC[Se]C\n")
    assert _molecules_kind(tmp_path / "new.csv") == "molecules"
    with pytest.raises(ValueError, match="the token '\\[Se\\]', which is not in the model's"):
        data.read_new(own, tmp_path / "new.csv")
    (tmp_path / "ok.csv").write_text("SMILES\nCCO\nOCC(O)CO\n")
    new = data.read_new(own, tmp_path / "ok.csv")
    assert vocab.decode(new.x) == ["CCO", "OCC(O)CO"]


def _molecules_kind(path):
    from gen_jax.data import _own_read

    return _own_read.kind_of(path)
