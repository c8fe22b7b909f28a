"""A variational autoencoder of token sequences (molecules as SMILES or SELFIES): MOSES's
SMILES VAE, with KL annealing and free bits."""

from ._model import MolVAE as MolVAE
from ._model import MolVAEConfig as MolVAEConfig
from ._model import MolVAENet as MolVAENet
from ._model import build as build
