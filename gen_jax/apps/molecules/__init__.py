"""Molecular design (``pip install "gen-jax[molecules]"``: RDKit and selfies).

MOSES's metrics re-implemented on RDKit and JAX (:func:`moses_metrics`, with reference sets
described once: :func:`reference_set`, :func:`moses_reference`); SMILES tokenization, SELFIES
and vocabularies (:class:`Vocabulary`); SMILES files and the MOSES and QM9 sets
(:func:`read_smiles`, :func:`dataset_smiles`); ``gen-jax molecules eval | reference``.
"""

from ...data import SPECIALS as SPECIALS
from ...data import Vocabulary as Vocabulary
from ...data import from_selfies as from_selfies
from ...data import read_smiles as read_smiles
from ...data import to_selfies as to_selfies
from ...data import tokenize as tokenize
from ...data import tokenize_selfies as tokenize_selfies
from ...data import tokenize_smiles as tokenize_smiles
from ._chem import PROPERTIES as PROPERTIES
from ._chem import canonical as canonical
from ._chem import filters_dir as filters_dir
from ._chem import fingerprint as fingerprint
from ._chem import fragments as fragments
from ._chem import molecule_grid as molecule_grid
from ._chem import passes_filters as passes_filters
from ._chem import property_fn as property_fn
from ._chem import scaffold as scaffold
from ._commands import main as main
from ._commands import metrics_markdown as metrics_markdown
from ._data import Cleaned as Cleaned
from ._data import canonicalize as canonicalize
from ._data import dataset_smiles as dataset_smiles
from ._moses import ReferenceSet as ReferenceSet
from ._moses import cosine_similarity as cosine_similarity
from ._moses import describe_all as describe_all
from ._moses import fraction_unique as fraction_unique
from ._moses import load_reference as load_reference
from ._moses import moses_metrics as moses_metrics
from ._moses import novelty as novelty
from ._moses import reference_set as reference_set
from ._moses import save_reference as save_reference
from ._reference import moses_reference as moses_reference
