"""Datasets for gen_jax: TFDS builders, toy 2-D sets, on-device preprocessing, input pipeline.

Environment variables:

* ``GEN_JAX_DATA_DIR``: folder of raw dataset files (``mnist/``, ``fashion_mnist/``,
  ``binarized_mnist/``, ``cifar10/``, ``svhn/`` with their standard file names), used when
  ``load(..., data_dir=...)`` is not given. With neither set, the raw files are downloaded from
  their usual public URLs.
* ``GEN_JAX_TFDS_DIR``: where the prepared TFDS (ArrayRecord) files are kept, used when
  ``load(..., tfds_dir=...)`` is not given; unset, TFDS's default (``$TFDS_DATA_DIR`` or
  ``~/tensorflow_datasets``).

A user's own data (an image folder, ``.npy``/``.npz`` arrays, a ``.csv``/``.parquet`` table) opens
with :func:`open_own` and reads with :func:`load_own`, prepared once like the built-in sets.

TensorFlow is never needed.
"""

from ._errors import DataError as DataError
from ._labels import labelled_subset as labelled_subset
from ._molecule_sets import MOLECULE_SETS as MOLECULE_SETS
from ._molecules import Encoded as Encoded
from ._molecules import MoleculeSet as MoleculeSet
from ._molecules import canonical_smiles as canonical_smiles
from ._molecules import encode_molecules as encode_molecules
from ._molecules import raw_molecules_dir as raw_molecules_dir
from ._molecules import read_smiles as read_smiles
from ._own import OwnData as OwnData
from ._own import OwnOptions as OwnOptions
from ._own import Standardizer as Standardizer
from ._own import load_own as load_own
from ._own import open_own as open_own
from ._own import read_new as read_new
from ._pipeline import Loader as Loader
from ._pipeline import labelled_positions as labelled_positions
from ._poisson import PoissonLoader as PoissonLoader
from ._preprocess import dequantize_with_noise as dequantize_with_noise
from ._preprocess import preprocess as preprocess
from ._registry import available as available
from ._registry import info as info
from ._registry import load as load
from ._smiles import SPECIALS as SPECIALS
from ._smiles import Vocabulary as Vocabulary
from ._smiles import from_selfies as from_selfies
from ._smiles import to_selfies as to_selfies
from ._smiles import tokenize as tokenize
from ._smiles import tokenize_selfies as tokenize_selfies
from ._smiles import tokenize_smiles as tokenize_smiles
from ._toy import toy_modes as toy_modes
from ._types import ArrayDataset as ArrayDataset
from ._types import DatasetInfo as DatasetInfo
from ._units import bits_per_dim as bits_per_dim
