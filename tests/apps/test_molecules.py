"""The molecules app: tokenizers and vocabularies, SMILES files, and MOSES's metrics against
brute-force RDKit computations on small sets."""

import json
import math
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("rdkit", reason="the molecules extra is not installed")

from rdkit import Chem, DataStructs  # noqa: E402
from rdkit.Chem import AllChem, Crippen, Descriptors  # noqa: E402
from rdkit.Chem.Scaffolds import MurckoScaffold  # noqa: E402

from gen_jax import cli  # noqa: E402
from gen_jax._extras import MissingExtraError  # noqa: E402
from gen_jax.apps import molecules  # noqa: E402
from gen_jax.apps.molecules import _chem  # noqa: E402

from .conftest import QM9_RUNS_GROUP  # noqa: E402


@pytest.fixture(scope="module")
def moses_test(data_dir):
    return molecules.dataset_smiles("moses", "test", data_dir)[:240]


@pytest.fixture(scope="module")
def generated(data_dir):
    # training molecules, a repeat written differently, and two strings RDKit rejects
    train = molecules.dataset_smiles("moses", "train", data_dir)[:60]
    return train + ["C1=CC=CC=C1", "c1ccccc1", "C1CC", "not a molecule"]


def test_smiles_tokens_join_back_on_moses_and_qm9(data_dir):
    sets = molecules.dataset_smiles("moses", "test", data_dir)[:1000] + \
        molecules.dataset_smiles("qm9", "all", data_dir)[::130]
    for s in sets:
        assert "".join(molecules.tokenize_smiles(s)) == s
    assert molecules.tokenize_smiles("Clc1cc[nH]c1[C@@H](Br)C%12CC%12") == [
        "Cl", "c", "1", "c", "c", "[nH]", "c", "1", "[C@@H]", "(", "Br", ")", "C", "%12", "C",
        "C", "%12"]
    with pytest.raises(ValueError, match="'!' at position 2"):
        molecules.tokenize_smiles("CC!C")


def test_selfies_round_trip_and_any_symbols_decode_to_a_molecule(data_dir):
    for s in molecules.dataset_smiles("moses", "test", data_dir)[:200]:
        sf = molecules.to_selfies(s)
        assert molecules.canonical(molecules.from_selfies(sf)) == molecules.canonical(s)
    alphabet = sorted({t for s in molecules.dataset_smiles("moses", "test", data_dir)[:200]
                       for t in molecules.tokenize_selfies(molecules.to_selfies(s))})
    rng = np.random.default_rng(0)
    for _ in range(200):
        tokens = rng.choice(alphabet, size=int(rng.integers(1, 30)))
        smiles = molecules.from_selfies("".join(tokens))
        assert smiles == "" or Chem.MolFromSmiles(smiles) is not None


def test_vocabulary_round_trip_save_and_bad_input(tmp_path):
    strings = ["CCO", "c1ccccc1Cl", "C[C@@H](N)C(=O)O"]
    vocab = molecules.Vocabulary.build((molecules.tokenize_smiles(s) for s in strings), "smiles")
    ids = vocab.encode(strings)
    assert ids.shape == (3, vocab.max_length + 2) and vocab.max_length == 11
    assert (ids[:, 0] == 1).all() and ids[0, 4] == 2 and (ids[0, 5:] == 0).all()
    assert vocab.decode(ids) == strings
    vocab.save(tmp_path / "vocab.json")
    assert molecules.Vocabulary.load(tmp_path / "vocab.json") == vocab
    with pytest.raises(ValueError, match="token 'Br', which is not in the model's vocabulary"):
        vocab.encode(["CBr"])
    with pytest.raises(ValueError, match="at most 11"):
        vocab.encode(["C" * 12])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a gen_jax vocabulary"):
        molecules.Vocabulary.load(tmp_path / "bad.json")


def test_smiles_files_and_invalid_lines(tmp_path):
    (tmp_path / "a.csv").write_text("id,Smiles\n1,CCO\n2,C1CC\n3,c1ccccc1\n")
    (tmp_path / "b.smi").write_text("smiles\nCCO mol1\n\nc1ccccc1 mol2\n")
    (tmp_path / "c.csv").write_text("name\nx\n")
    assert molecules.read_smiles(tmp_path / "a.csv") == ["CCO", "C1CC", "c1ccccc1"]
    assert molecules.read_smiles(tmp_path / "b.smi") == ["CCO", "c1ccccc1"]
    with pytest.raises(ValueError, match="no SMILES column"):
        molecules.read_smiles(tmp_path / "c.csv")
    cleaned = molecules.canonicalize(molecules.read_smiles(tmp_path / "a.csv"))
    assert cleaned.smiles == ["CCO", "c1ccccc1"] and cleaned.invalid == 1
    assert cleaned.first_invalid == "C1CC"


def test_unique_novelty_and_validity_by_hand():
    canon = ["CCO", "CCO", "c1ccccc1", "CCN"]
    assert molecules.fraction_unique(canon) == 0.75
    assert molecules.fraction_unique(canon, 2) == 0.5
    with pytest.warns(UserWarning, match="unique@10 computed on the 4"):
        molecules.fraction_unique(canon, 10)
    assert molecules.novelty(canon, {"CCO"}) == pytest.approx(2 / 3)


def test_filters_by_hand(data_dir):
    folder = str(molecules.filters_dir(data_dir=data_dir))
    passes = lambda s: molecules.passes_filters(Chem.MolFromSmiles(s), folder)  # noqa: E731
    assert passes("CC(=O)Nc1ccc(O)cc1")  # paracetamol
    assert not passes("CC(=O)[O-]")  # charged
    assert not passes("C1CCCCCCC1")  # a ring of 8
    assert not passes("CCP(C)C")  # phosphorus is not allowed
    assert not passes("CCCCl")  # MCF4: [H]C([H])([#6])[F,Cl,Br,I], a primary alkyl halide
    assert not passes("O=C1C(=Cc2ccccc2)SC(=S)N1")  # PAINS: an ene-rhodanine


def test_molecule_grid(tmp_path):
    from PIL import Image

    from gen_jax.provenance import Provenance, read_provenance

    made = Provenance("generated", "molecules of a test", run="runs/x", step=3)
    assert molecules.molecule_grid(["CCO", "C1CC", "c1ccccc1", "CN"], tmp_path / "g.png",
                                   num=2, per_row=2, size=50, provenance=made) == 2
    assert Image.open(tmp_path / "g.png").size == (100, 50)
    text = read_provenance(tmp_path / "g.png")
    assert text["gen_jax:synthetic"] == "true" and text["gen_jax:step"] == "3"
    assert molecules.molecule_grid(["C1CC"], tmp_path / "none.png", provenance=made) == 0
    assert not (tmp_path / "none.png").exists()


def _morgan(smiles):
    return AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(smiles), 2, nBits=1024)


def _wasserstein(u, v):
    """W1 of two empirical distributions: the integral of |F_u - F_v|."""
    grid = np.sort(np.concatenate([u, v]))
    fu = np.searchsorted(np.sort(u), grid[:-1], side="right") / len(u)
    fv = np.searchsorted(np.sort(v), grid[:-1], side="right") / len(v)
    return float(np.sum(np.abs(fu - fv) * np.diff(grid)))


def test_moses_metrics_match_brute_force_rdkit(moses_test, generated, data_dir, tmp_path):
    ref = molecules.reference_set(moses_test, "Test")
    got = molecules.moses_metrics(generated, test=ref, ks=(10, 1000), train=set(generated[:30]),
                                  filters=molecules.filters_dir(data_dir=data_dir), block=64)
    valid = [Chem.MolToSmiles(m) for m in map(Chem.MolFromSmiles, generated) if m is not None]
    assert got["valid"] == pytest.approx(62 / 64)
    assert got["unique@10"] == 1.0 and got["unique@1000"] == pytest.approx(len(set(valid)) / 62)
    assert got["Novelty"] == pytest.approx(len(set(valid) - set(generated[:30]))
                                           / len(set(valid)))
    gen_fps = [_morgan(s) for s in valid]
    ref_fps = [_morgan(Chem.MolToSmiles(Chem.MolFromSmiles(s))) for s in moses_test]
    nearest = [max(DataStructs.BulkTanimotoSimilarity(f, ref_fps)) for f in gen_fps]
    assert got["SNN/Test"] == pytest.approx(np.mean(nearest), abs=1e-6)
    pairs = np.array([DataStructs.BulkTanimotoSimilarity(f, gen_fps) for f in gen_fps])
    assert got["IntDiv"] == pytest.approx(1 - pairs.mean(), abs=1e-6)
    assert got["IntDiv2"] == pytest.approx(1 - np.sqrt((pairs ** 2).mean(1)).mean(), abs=1e-6)

    def cosine(a, b):
        keys = sorted(set(a) | set(b))
        x, y = (np.array([c.get(k, 0) for k in keys], float) for c in (a, b))
        return x @ y / np.linalg.norm(x) / np.linalg.norm(y)

    def frags(smiles):
        return Counter(f for s in smiles for f in Chem.MolToSmiles(
            AllChem.FragmentOnBRICSBonds(Chem.MolFromSmiles(s))).split("."))

    def scafs(smiles):
        out = Counter()
        for s in smiles:
            core = MurckoScaffold.GetScaffoldForMol(Chem.MolFromSmiles(s))
            if core.GetRingInfo().NumRings() >= 2:
                out[Chem.MolToSmiles(core)] += 1
        return out

    assert got["Frag/Test"] == pytest.approx(cosine(frags(moses_test), frags(valid)), abs=1e-12)
    assert got["Scaf/Test"] == pytest.approx(cosine(scafs(moses_test), scafs(valid)), abs=1e-12)
    logp = lambda smiles: np.array([Crippen.MolLogP(Chem.MolFromSmiles(s))  # noqa: E731
                                    for s in smiles])
    weight = lambda smiles: np.array([Descriptors.MolWt(Chem.MolFromSmiles(s))  # noqa: E731
                                      for s in smiles])
    assert got["logP"] == pytest.approx(_wasserstein(logp(moses_test), logp(valid)), rel=1e-9)
    assert got["weight"] == pytest.approx(_wasserstein(weight(moses_test), weight(valid)),
                                          rel=1e-9)
    folder = str(molecules.filters_dir(data_dir=data_dir))
    assert got["Filters"] == pytest.approx(np.mean([
        molecules.passes_filters(Chem.MolFromSmiles(s), folder) for s in valid]))
    assert 0 < got["QED"] < 0.2 and 0 < got["SA"] < 1

    molecules.save_reference(tmp_path / "ref.npz", ref)
    back = molecules.load_reference(tmp_path / "ref.npz")
    np.testing.assert_array_equal(back.fingerprints, ref.fingerprints)
    assert back.fragments == ref.fragments and back.scaffolds == ref.scaffolds
    assert back.record == ref.record and back.record["num"] == 240


def test_eval_command_writes_the_table(moses_test, generated, data_dir, tmp_path, capsys):
    (tmp_path / "gen.smi").write_text("\n".join(generated) + "\n")
    (tmp_path / "test.csv").write_text("SMILES\n" + "\n".join(moses_test[:80]) + "\n")
    (tmp_path / "train.csv").write_text("SMILES\n" + "\n".join(generated[:30]) + "\n")
    code = cli.main(["molecules", "eval", str(tmp_path / "gen.smi"), "--test",
                     str(tmp_path / "test.csv"), "--test-scaffolds", "none", "--train",
                     str(tmp_path / "train.csv"), "--no-fcd", "--data-dir", str(data_dir),
                     "--out", str(tmp_path / "out")])
    assert code == 0
    record = json.loads((tmp_path / "out" / "metrics.json").read_text())
    want = molecules.moses_metrics(
        generated, test=molecules.reference_set(moses_test[:80], "Test"),
        train=set(generated[:30]), filters=molecules.filters_dir(data_dir=data_dir))
    assert record["metrics"].keys() == want.keys()
    for k, v in want.items():
        assert record["metrics"][k] == pytest.approx(v, nan_ok=True), k
    assert "| SNN/Test |" in capsys.readouterr().out
    assert "| Filters |" in (tmp_path / "out" / "metrics.md").read_text()


def test_bad_input_is_one_line(tmp_path, capsys, monkeypatch):
    with pytest.raises(ValueError, match="unknown molecular property 'logd'; known: logp"):
        molecules.property_fn("logd")
    assert cli.main(["molecules", "eval", str(tmp_path / "missing.csv"), "--no-fcd"]) == 2
    assert "no SMILES file at" in capsys.readouterr().err
    assert cli.main(["molecules", "draw"]) == 2
    assert "takes one of sample, eval, reference, optimize first" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="lacks mcf.csv, wehi_pains.csv; they ship in"):
        molecules.filters_dir(tmp_path)

    def missing(name, *args, **kwargs):
        raise ImportError(name)

    _chem.rdkit.cache_clear()
    monkeypatch.setattr("importlib.import_module", missing)
    try:
        with pytest.raises(MissingExtraError, match=r'pip install "gen-jax\[molecules\]"'):
            molecules.canonical("CCO")
    finally:
        monkeypatch.undo()
        _chem.rdkit.cache_clear()
    assert molecules.canonical("OCC") == "CCO"
    assert not math.isnan(molecules.cosine_similarity({"a": 1}, {"a": 2}))


@pytest.mark.xdist_group(QM9_RUNS_GROUP)
def test_train_and_sample_a_charrnn_on_qm9(qm9_runs, tmp_path, capsys):
    run = qm9_runs["charrnn"]  # gen-jax train charrnn --data.name qm9, 3 steps, 4 samples
    vocab = json.loads((run / "vocabulary.json").read_text())
    assert vocab["data"] == "qm9" and vocab["tokens"][:3] == list(molecules.SPECIALS)
    assert len((run / "samples.txt").read_text().splitlines()) == 4
    capsys.readouterr()
    assert cli.main(["molecules", "sample", "--workdir", str(run), "--num", "7", "--top-p",
                     "0.9", "--batch-size", "4", "--out", str(tmp_path / "mol.csv")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["step"] == 3 and record["top_p"] == 0.9 and record["data"] == "qm9"
    rows = (tmp_path / "mol.csv").read_text().splitlines()
    assert rows[0] == "SMILES" and len(rows) == 8
    assert all(set(molecules.tokenize_smiles(r)) <= set(vocab["tokens"]) for r in rows[1:])
    assert cli.main(["molecules", "sample", "--workdir", str(run), "--num", "2",
                     "--temperature", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
