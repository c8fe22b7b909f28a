"""The registered molecule data sets: their sources, vocabularies and sizes.

Generated once from the raw files (``moses/*.csv.gz`` of the molsets 0.3.1 wheel, ``qm9/qm9.csv``)
with RDKit 2026.09 and selfies 2.2: each vocabulary is every token of the set's molecules (all
splits), sorted, after ``<pad>``, ``<bos>``, ``<eos>``; ``max_length`` is the longest molecule.
The split sizes count the molecules kept (valid, and for SELFIES encodable); a raw file that
gives other counts is refused when it is prepared.
"""

from __future__ import annotations

from ._molecules import MoleculeSet
from ._smiles import SPECIALS, Vocabulary

MOSES_FILES = {"train": "moses/train.csv.gz", "test": "moses/test.csv.gz",
               "test_scaffolds": "moses/test_scaffolds.csv.gz"}
QM9_FILE = {"all": "qm9/qm9.csv"}
QM9_TEST_FRACTION = 0.1
"""QM9 ships as one file: a fixed random tenth (seed 0) is the test split."""


def _vocab(tokens: tuple[str, ...], representation: str, max_length: int) -> Vocabulary:
    return Vocabulary(SPECIALS + tokens, representation, max_length)  # type: ignore[arg-type]

MOSES_TOKENS = (
        '#', '(', ')', '-', '1', '2', '3', '4', '5', '6', '=', 'Br', 'C', 'Cl', 'F', 'N', 'O',
        'S', '[H]', '[nH]', 'c', 'n', 'o', 's',
)
MOSES_SELFIES_TOKENS = (
        '[#Branch1]', '[#Branch2]', '[#C]', '[#N]', '[=Branch1]', '[=Branch2]', '[=C]', '[=N]',
        '[=O]', '[=Ring1]', '[=Ring2]', '[=S]', '[Br]', '[Branch1]', '[Branch2]', '[C]', '[Cl]',
        '[F]', '[H]', '[NH1]', '[N]', '[O]', '[P]', '[Ring1]', '[Ring2]', '[S]',
)
QM9_TOKENS = (
        '#', '(', ')', '1', '2', '3', '4', '5', '=', 'C', 'F', 'N', 'O', '[C-]', '[CH-]', '[N-]',
        '[NH+]', '[NH2+]', '[NH3+]', '[O-]',
)
QM9_SELFIES_TOKENS = (
        '[#Branch1]', '[#Branch2]', '[#C]', '[#N]', '[=Branch1]', '[=Branch2]', '[=C]',
        '[=NH1+1]', '[=NH2+1]', '[=N]', '[=O]', '[Branch1]', '[Branch2]', '[C-1]', '[CH1-1]',
        '[C]', '[F]', '[N-1]', '[NH1+1]', '[NH2+1]', '[NH3+1]', '[N]', '[O-1]', '[O]', '[Ring1]',
        '[Ring2]',
)

MOLECULE_SETS: dict[str, MoleculeSet] = {s.name: s for s in (
    MoleculeSet("moses", MOSES_FILES, "smiles", _vocab(MOSES_TOKENS, "smiles", 54),
                {"train": 1_584_663, "test": 176_074, "test_scaffolds": 176_225}),
    MoleculeSet("moses_selfies", MOSES_FILES, "selfies",
                _vocab(MOSES_SELFIES_TOKENS, "selfies", 55),
                {"train": 1_584_663, "test": 176_074, "test_scaffolds": 176_225}),
    MoleculeSet("qm9", QM9_FILE, "smiles", _vocab(QM9_TOKENS, "smiles", 22),
                {"train": 120_497, "test": 13_388}, test_fraction=QM9_TEST_FRACTION),
    MoleculeSet("qm9_selfies", QM9_FILE, "selfies", _vocab(QM9_SELFIES_TOKENS, "selfies", 21),
                {"train": 120_371, "test": 13_372}, test_fraction=QM9_TEST_FRACTION),
)}
"""Name -> :class:`MoleculeSet`."""
