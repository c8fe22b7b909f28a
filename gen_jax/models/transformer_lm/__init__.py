"""A small decoder-only Transformer language model of token sequences (molecules as SMILES or
SELFIES) and of any discrete data, with an exact likelihood."""

from ._model import TransformerLM as TransformerLM
from ._model import TransformerLMConfig as TransformerLMConfig
from ._model import TransformerLMNet as TransformerLMNet
from ._model import build as build
