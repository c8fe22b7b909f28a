"""ChemNet activations of SMILES strings, the features of the Frechet ChemNet Distance (FCD),
computed as the ``fcd`` package computes them, without torch.

SMILES are tokenized with the package's 35-symbol vocabulary (two-letter symbols first,
anything else the unknown ``X``), end with ``.``, are one-hot encoded, padded with zero rows to
350 steps (longer SMILES: their own length) and divided by 35. SMILES are taken as given:
canonicalize them first (RDKit) when comparing with numbers that did, as MOSES does.

Weights: ``ChemNet_v0.13_pretrained.pt`` of the ``fcd`` wheel (LGPL-3.0), read through
:func:`gen_jax.nn.read_torch_file` (tensors and containers only). ``pip download --no-deps
fcd==1.2.2`` fetches the wheel without torch; pass it or the file inside, or set
``$GEN_JAX_CHEMNET_WEIGHTS``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._torch_archive import read_torch_file, weights_file
from ..nn import CHEMNET_VOCAB, ChemNet
from ._frechet import FeatureStatistics, feature_statistics, frechet_distance_from_statistics

CHEMNET_ENV = "GEN_JAX_CHEMNET_WEIGHTS"
CHEMNET_MEMBER = "fcd/ChemNet_v0.13_pretrained.pt"
CHEMNET_HOW_TO_GET = (
    "get them with `pip download --no-deps fcd==1.2.2` (no torch needed) and pass the wheel, "
    f"or set ${CHEMNET_ENV} to ChemNet_v0.13_pretrained.pt")
FCD_VOCAB = ("C", "N", "O", "H", "F", "Cl", "P", "B", "Br", "S", "I", "Si", "#", "(", ")", "+",
             "-", "1", "2", "3", "4", "5", "6", "7", "8", "=", "[", "]", "@", "c", "n", "o", "s",
             "X", ".")
"""The ``fcd`` package's symbols, in its order (the one-hot index)."""
FCD_PAD_LEN = 350
_INDEX = {symbol: i for i, symbol in enumerate(FCD_VOCAB)}
_TOKEN = re.compile("|".join(re.escape(s) for s in sorted(FCD_VOCAB, key=lambda s: (-len(s), s)))
                    + "|.")
_EXPECTED = (
    ("Conv1d", {"in_channels": 35, "out_channels": 32, "kernel_size": 4, "stride": 2},
     {"activation": "selu", "padding": "same"}),
    ("Conv1d", {"in_channels": 32, "out_channels": 32, "kernel_size": 4, "stride": 2},
     {"activation": "selu", "padding": "same"}),
    ("LSTM", {"input_size": 32, "hidden_size": 128, "batch_first": True},
     {"reverse": True, "last": False}),
    ("LSTM", {"input_size": 128, "hidden_size": 512, "batch_first": True},
     {"reverse": True, "last": True}),
)


def fcd_tokens(smiles: str) -> list[str]:
    """The ``fcd`` package's tokens of ``smiles`` (``Cl``, ``Br``, ``Si`` as one token)."""
    return _TOKEN.findall(smiles)


def fcd_one_hot(smiles: Sequence[str], pad_len: int | None = None) -> np.ndarray:
    """``[N, L, 35]`` float32 inputs of ChemNet: one-hot tokens plus the end ``.``, zero rows
    to ``L = max(350, longest + 1)`` (or ``pad_len``), divided by 35."""
    longest = max(len(s) for s in smiles) + 1
    length = max(FCD_PAD_LEN, longest) if pad_len is None else pad_len
    if length < longest:
        raise ValueError(f"pad_len {pad_len} is shorter than the longest SMILES plus its end "
                         f"token ({longest})")
    out = np.zeros((len(smiles), length, CHEMNET_VOCAB), np.float32)
    for row, text in enumerate(smiles):
        ids = [_INDEX.get(t, _INDEX["X"]) for t in fcd_tokens(text + ".")]
        out[row, np.arange(len(ids)), ids] = 1.0
    return out / CHEMNET_VOCAB


def fcd_torch_one_hot(smiles: Sequence[str]) -> np.ndarray:
    """``[N, 350, 35]`` ChemNet inputs as ``fcd_torch`` (MOSES's FCD) encodes them: a symbol
    followed by ``r``, ``i`` or ``l`` is read as one two-letter token (``Br``, ``Si``, ``Cl``,
    but also ``Li`` as the unknown ``X``), always 350 steps, a longer SMILES cut to 349 tokens
    and the end token. (``fcd_torch`` also canonicalizes with RDKit first; do that before.)"""
    out = np.zeros((len(smiles), FCD_PAD_LEN, CHEMNET_VOCAB), np.float32)
    for row, text in enumerate(smiles):
        text, src, dst = text + ".", 0, 0
        while True:
            width = 2 if text[src + 1] in "ril" else 1
            out[row, dst, _INDEX.get(text[src:src + width], _INDEX["X"])] = 1.0
            src, dst = src + width, dst + 1
            if text[src] == "." or dst == FCD_PAD_LEN - 1:
                out[row, dst, _INDEX["."]] = 1.0
                break
    return out / CHEMNET_VOCAB


ENCODINGS = {"fcd": fcd_one_hot, "fcd_torch": lambda smiles, pad_len=None: fcd_torch_one_hot(
    smiles)}
"""How SMILES become ChemNet's input: the ``fcd`` package's (default) or ``fcd_torch``'s."""


def chemnet_params(path: str | Path) -> dict[str, Any]:
    """ChemNet's Flax parameters from ``ChemNet_v0.13_pretrained.pt`` (or the ``fcd`` wheel).

    The file is a list of ``(layer type, (state dict, arguments, settings))``; each is checked
    against the architecture, and a file of another network is refused in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ChemNet weights at {path}; {CHEMNET_HOW_TO_GET}")
    with tempfile.TemporaryDirectory() as tmp:
        layers = read_torch_file(weights_file(path, CHEMNET_MEMBER, tmp, "fcd"))
    try:
        for (kind, (_, kwargs, other)), (want_kind, want_kwargs, want_other) in zip(
                layers, _EXPECTED, strict=True):
            if kind != want_kind or any(kwargs.get(k) != v for k, v in want_kwargs.items()) \
                    or any(other.get(k) != v for k, v in want_other.items()):
                raise ValueError(kind)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path} is not the FCD ChemNet (ChemNet_v0.13_pretrained.pt); "
                         f"{CHEMNET_HOW_TO_GET}") from e
    (_, (conv, _, _)), (_, (conv_1, _, _)), (_, (lstm, _, _)), (_, (lstm_1, _, _)) = layers

    def lstm_params(state):
        return {name: np.asarray(state[f"{name}_l0"], np.float32)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}

    return {"conv": np.transpose(conv["weight"], (2, 1, 0)).astype(np.float32),
            "conv_1": np.transpose(conv_1["weight"], (2, 1, 0)).astype(np.float32),
            "lstm": lstm_params(lstm), "lstm_1": lstm_params(lstm_1)}


def locate_chemnet(weights: str | Path | None = None) -> Path:
    """``weights``, else ``$GEN_JAX_CHEMNET_WEIGHTS``, else an installed ``fcd``'s file.

    Raises:
      FileNotFoundError: none has them (the message says how to get them).
    """
    source = weights if weights is not None else os.environ.get(CHEMNET_ENV) or None
    if source is not None:
        return Path(source)
    try:
        found = Path(str(importlib.metadata.distribution("fcd").locate_file(CHEMNET_MEMBER)))
    except importlib.metadata.PackageNotFoundError:
        found = None
    if found is None or not found.is_file():
        raise FileNotFoundError(f"no ChemNet weights (looked at ${CHEMNET_ENV} and an installed "
                                f"fcd package); {CHEMNET_HOW_TO_GET}")
    return found


@jax.jit
def _activations(params: Any, x: jax.Array) -> jax.Array:
    return ChemNet().apply({"params": params}, x)


class ChemNetFeatures:
    """ChemNet activations of SMILES, ``batch_size`` molecules per compiled call.

    Args:
      params: :func:`chemnet_params`'s answer.
      batch_size: molecules per call.
      encoding: ``"fcd"`` (the ``fcd`` package: :func:`fcd_one_hot`) or ``"fcd_torch"``
        (MOSES's FCD: :func:`fcd_torch_one_hot`); they differ only on rare symbols (``Li``,
        ``Ni``...) and on SMILES longer than 349 tokens.
    """

    def __init__(self, params: dict[str, Any], *, batch_size: int = 128,
                 encoding: str = "fcd"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
        self.params, self.batch_size = jax.device_put(params), batch_size
        self.encoding = encoding

    def features(self, smiles: Sequence[str]) -> np.ndarray:
        """``[N, 512]`` activations of ``N`` SMILES strings (the ``fcd`` package's
        ``get_predictions``)."""
        smiles = list(smiles)
        if not smiles:
            raise ValueError("no SMILES to compute ChemNet activations of")
        bad = next((s for s in smiles if not isinstance(s, str) or not s), None)
        if bad is not None:
            raise ValueError(f"ChemNet takes non-empty SMILES strings, got {bad!r}")
        pad_len = max(FCD_PAD_LEN, max(len(s) for s in smiles) + 1)
        encode = ENCODINGS[self.encoding]
        size = min(self.batch_size, len(smiles))
        out = []
        for start in range(0, len(smiles), size):
            rows = smiles[start:start + size]
            rows = rows + [rows[-1]] * (size - len(rows))  # one compiled shape
            x = encode(rows, pad_len)
            out.append(np.asarray(_activations(self.params, x))[:len(smiles) - start])
        return np.concatenate(out)


def load_chemnet(weights: str | Path | None = None, **kwargs: Any) -> ChemNetFeatures:
    """The FCD's ChemNet with its weights found by :func:`locate_chemnet`; ``kwargs`` go to
    :class:`ChemNetFeatures`."""
    return ChemNetFeatures(chemnet_params(locate_chemnet(weights)), **kwargs)


def frechet_chemnet_distance(chemnet: ChemNetFeatures, smiles: Sequence[str],
                             reference: Sequence[str] | FeatureStatistics) -> float:
    """FCD of ``smiles`` against ``reference`` SMILES or their statistics (e.g. MOSES's
    ``test_fcd_stats.npz`` read with :func:`load_statistics`)."""
    stats = feature_statistics(chemnet.features(smiles))
    if not isinstance(reference, FeatureStatistics):
        reference = feature_statistics(chemnet.features(reference))
    return float(frechet_distance_from_statistics(stats, reference))
