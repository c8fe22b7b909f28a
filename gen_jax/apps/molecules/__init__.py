"""Molecular design (``pip install "gen-jax[molecules]"``: RDKit and selfies).

MOSES's metrics re-implemented on RDKit and JAX (:func:`moses_metrics`, with reference sets
described once: :func:`reference_set`, :func:`moses_reference`); SMILES tokenization, SELFIES
and vocabularies (:class:`Vocabulary`); SMILES files and the MOSES and QM9 sets
(:func:`read_smiles`, :func:`dataset_smiles`); property optimization under a budget of oracle
calls (:class:`Oracle`): Bayesian optimization (:func:`bayesian_optimization`, on the GP of
:func:`fit_gp`) and gradient ascent (:func:`fit_predictor`, :func:`gradient_ascent`) in a
molvae's latent space, JT-VAE's constrained task (:func:`constrained_optimization`) and REINVENT
(:func:`reinvent`); ``gen-jax molecules sample | eval | reference | optimize``.
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
from ._gp import GP as GP
from ._gp import add_points as add_points
from ._gp import expected_improvement as expected_improvement
from ._gp import fit_gp as fit_gp
from ._gp import propose as propose
from ._gp import refit as refit
from ._latent_opt import Improvement as Improvement
from ._latent_opt import LatentSpace as LatentSpace
from ._latent_opt import PropertyPredictor as PropertyPredictor
from ._latent_opt import bayesian_optimization as bayesian_optimization
from ._latent_opt import constrained_optimization as constrained_optimization
from ._latent_opt import fit_predictor as fit_predictor
from ._latent_opt import gradient_ascent as gradient_ascent
from ._latent_opt import gradient_path as gradient_path
from ._latent_opt import similarity as similarity
from ._moses import ReferenceSet as ReferenceSet
from ._moses import cosine_similarity as cosine_similarity
from ._moses import describe_all as describe_all
from ._moses import fraction_unique as fraction_unique
from ._moses import load_reference as load_reference
from ._moses import moses_metrics as moses_metrics
from ._moses import novelty as novelty
from ._moses import reference_set as reference_set
from ._moses import save_reference as save_reference
from ._objective import Objective as Objective
from ._objective import Oracle as Oracle
from ._objective import Round as Round
from ._objective import objective as objective
from ._reference import moses_reference as moses_reference
from ._reinvent import augmented_loss as augmented_loss
from ._reinvent import reinvent as reinvent
from ._reinvent import reward_map as reward_map
from ._runs import MoleculeRun as MoleculeRun
