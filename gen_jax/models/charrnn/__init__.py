"""CharRNN: an autoregressive recurrent language model of token sequences (molecules as
SMILES or SELFIES) and of any discrete data, with an exact likelihood."""

from ._model import CharRNN as CharRNN
from ._model import CharRNNConfig as CharRNNConfig
from ._model import CharRNNNet as CharRNNNet
from ._model import build as build
