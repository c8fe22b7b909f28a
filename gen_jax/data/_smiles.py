"""Strings of molecules as token sequences: SMILES tokenization, SELFIES, and vocabularies.

SMILES are split with the atom-level regular expression of Schwaller et al. 2019 (bracket atoms
such as ``[nH]`` or ``[C@@H]``, ``Cl`` and ``Br``, and two-digit ring closures ``%12`` are one
token each); joining the tokens gives the string back. SELFIES (Krenn et al. 2020, the
``selfies`` package) are split into their bracketed symbols; every SELFIES string decodes to a
valid molecule.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from .._extras import require
from .._files import write_atomic

Representation = Literal["smiles", "selfies"]
REPRESENTATIONS: tuple[str, ...] = ("smiles", "selfies")
SMILES_REGEX = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$|"
    r"%[0-9]{2}|[0-9])")
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
"""Tokens 0, 1, 2 of every vocabulary: padding, start and end of a sequence."""


def tokenize_smiles(smiles: str) -> list[str]:
    """Atom-level tokens of a SMILES string; a one-line ValueError at a character SMILES lacks."""
    tokens = SMILES_REGEX.findall(smiles)
    if "".join(tokens) != smiles:
        at = 0
        for t in tokens:
            if not smiles.startswith(t, at):
                break
            at += len(t)
        raise ValueError(f"SMILES {smiles!r} has {smiles[at]!r} at position {at}, which is not "
                         "part of SMILES's alphabet")
    return tokens


def _selfies():
    return require("selfies", "molecules", "SELFIES")


def to_selfies(smiles: str) -> str | None:
    """The SELFIES of a SMILES string, or None when ``selfies`` cannot encode it."""
    sf = _selfies()
    try:
        return sf.encoder(smiles)
    except sf.EncoderError:
        return None


def from_selfies(selfies: str) -> str:
    """The SMILES that a SELFIES string decodes to (always a valid molecule, perhaps empty)."""
    return _selfies().decoder(selfies)


def tokenize_selfies(selfies: str) -> list[str]:
    """The bracketed symbols of a SELFIES string."""
    tokens = list(_selfies().split_selfies(selfies))
    if "".join(tokens) != selfies:
        raise ValueError(f"{selfies!r} is not a SELFIES string (symbols in brackets)")
    return tokens


def tokenize(string: str, representation: Representation) -> list[str]:
    """Tokens of a SMILES or SELFIES string."""
    if representation == "smiles":
        return tokenize_smiles(string)
    if representation == "selfies":
        return tokenize_selfies(string)
    raise ValueError(f"representation must be one of {', '.join(REPRESENTATIONS)}, got "
                     f"{representation!r}")


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Token <-> id for one representation; ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``.

    Attributes:
      tokens: every token, the specials first.
      representation: ``"smiles"`` or ``"selfies"``.
      max_length: the most tokens of a molecule (without ``<bos>``/``<eos>``) the models take.
    """

    tokens: tuple[str, ...]
    representation: Representation
    max_length: int

    def __post_init__(self):
        if self.tokens[:3] != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, got {self.tokens[:3]}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("a vocabulary's tokens must be distinct")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {', '.join(REPRESENTATIONS)}")
        if self.max_length < 1:
            raise ValueError(f"max_length must be positive, got {self.max_length}")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], representation: Representation,
              max_length: int | None = None) -> Vocabulary:
        """The vocabulary of tokenized molecules (tokens sorted, for a stable order);
        ``max_length`` defaults to the longest molecule."""
        seen: set[str] = set()
        longest = 0
        for tokens in token_lists:
            seen.update(tokens)
            longest = max(longest, len(tokens))
        if not longest:
            raise ValueError("no molecules to build a vocabulary from")
        return cls(SPECIALS + tuple(sorted(seen - set(SPECIALS))), representation,
                   max_length or longest)

    @property
    def size(self) -> int:
        """Number of tokens, specials included."""
        return len(self.tokens)

    @property
    def sequence_length(self) -> int:
        """Length of an encoded sequence: ``<bos>``, ``max_length`` tokens, ``<eos>``."""
        return self.max_length + 2

    def tokenize(self, string: str) -> list[str]:
        """Tokens of ``string`` in this vocabulary's representation."""
        return tokenize(string, self.representation)

    def encode(self, strings: Sequence[str]) -> np.ndarray:
        """``[N, max_length + 2]`` int32 ids: ``<bos>``, the tokens, ``<eos>``, then ``<pad>``.

        Raises:
          ValueError: a token outside the vocabulary, or a molecule longer than ``max_length``.
        """
        index = {t: i for i, t in enumerate(self.tokens)}
        out = np.zeros((len(strings), self.sequence_length), np.int32)
        for row, string in enumerate(strings):
            tokens = self.tokenize(string)
            if len(tokens) > self.max_length:
                raise ValueError(f"{string!r} has {len(tokens)} tokens; this vocabulary takes at "
                                 f"most {self.max_length}")
            unknown = next((t for t in tokens if t not in index or t in SPECIALS), None)
            if unknown is not None:
                raise ValueError(f"{string!r} has the token {unknown!r}, which is not in the "
                                 "model's vocabulary (it was not in the training data)")
            out[row, 0] = 1
            out[row, 1:len(tokens) + 1] = [index[t] for t in tokens]
            out[row, len(tokens) + 1] = 2
        return out

    def decode(self, ids: np.ndarray) -> list[str]:
        """Strings of ``[N, T]`` ids: tokens after a leading ``<bos>`` up to the first ``<eos>``
        (or the end), ``<pad>`` and ``<bos>`` skipped."""
        ids = np.asarray(ids)
        out = []
        for row in ids.reshape(-1, ids.shape[-1]):
            tokens = []
            for i in row.tolist():
                if i == 2:
                    break
                if i > 2:
                    tokens.append(self.tokens[i])
            out.append("".join(tokens))
        return out

    def to_json(self) -> str:
        """The vocabulary as JSON (what a run saves beside its checkpoints)."""
        return json.dumps({"tokens": list(self.tokens), "representation": self.representation,
                           "max_length": self.max_length}, indent=1)

    def save(self, path: str | Path) -> None:
        """Writes :meth:`to_json` to ``path`` atomically."""
        write_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Reads a file written by :meth:`save`."""
        try:
            d = json.loads(Path(path).read_text())
            return cls(tuple(d["tokens"]), d["representation"], int(d["max_length"]))
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} is not a gen_jax vocabulary file ({e})") from None
