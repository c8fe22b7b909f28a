"""Molecule data sets as token sequences: MOSES and QM9, in SMILES or SELFIES.

Each set is read from its raw file under ``$GEN_JAX_DATA_DIR`` (``moses/{train,test}.csv.gz``,
``qm9/qm9.csv``), its invalid molecules (RDKit cannot parse them, or ``selfies`` cannot encode
them) skipped and counted, tokenized (:mod:`gen_jax.data._smiles`) and encoded with the set's
fixed vocabulary as uint8 ids ``[N, max_length + 2]`` (``<bos>``, tokens, ``<eos>``,
``<pad>``...). The prepared arrays are kept under the TFDS folder (``tfds_dir``,
``$GEN_JAX_TFDS_DIR``, else ``~/tensorflow_datasets``) in ``gen_jax_molecules/``; a later load
reads them back. RDKit (and ``selfies`` for the SELFIES sets) come with ``gen-jax[molecules]``.

The vocabularies and sizes are part of each set's definition, as an image set's shape is: a raw
file that gives other ones is refused (its digest differs from the one the set was made from).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._extras import require
from .._files import write_atomic, write_atomic_with
from ._errors import DataError
from ._smiles import Representation, Vocabulary, to_selfies, tokenize

SMILES_SUFFIXES = (".csv", ".csv.gz", ".smi", ".smi.gz", ".txt", ".txt.gz")
PREPARED_FORMAT = 1


def _open_text(path: Path) -> io.TextIOBase:
    return gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path, newline="")


def read_smiles(path: str | Path) -> list[str]:
    """The SMILES strings of a file, as written (no validity check).

    A ``.csv`` (``.csv.gz``) needs a header row naming a ``SMILES`` column (any case); a ``.smi``
    or ``.txt`` file (gzipped or not) holds one molecule per line, its first field, and a first
    line reading ``smiles`` is a header.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SMILES file at {path}")
    name = path.name.lower()
    if not name.endswith(SMILES_SUFFIXES):
        raise ValueError(f"{path}: SMILES files end in {', '.join(SMILES_SUFFIXES)}")
    with _open_text(path) as f:
        if ".csv" in name:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path} is empty")
            lowered = [h.strip().lower() for h in header]
            if "smiles" not in lowered:
                raise ValueError(f"{path} has no SMILES column (its header is {header}); name "
                                 "the column SMILES")
            col = lowered.index("smiles")
            out = [row[col].strip() for row in reader if row]
        else:
            out = [line.split()[0] for line in f if line.strip()]
            if out and out[0].lower() == "smiles":
                out = out[1:]
    if not out:
        raise ValueError(f"{path} holds no SMILES")
    return out


def _rdkit():
    chem = require("rdkit.Chem", "molecules", "molecule data")
    require("rdkit.RDLogger", "molecules", "molecule data").DisableLog("rdApp.*")
    return chem


def canonical_smiles(smiles: str) -> str | None:
    """RDKit's canonical SMILES of ``smiles`` (stereo kept), or None when it is invalid."""
    if not smiles:
        return None
    m = _rdkit().MolFromSmiles(smiles)
    return None if m is None else _rdkit().MolToSmiles(m)


@dataclasses.dataclass(frozen=True)
class Encoded:
    """Molecules as token ids, with what was skipped."""

    x: np.ndarray
    """``[N, max_length + 2]`` uint8 ids (int32 when the vocabulary has more than 256 tokens)."""
    strings: list[str]
    """The kept molecules in the representation (SMILES or SELFIES)."""
    invalid: int
    """Inputs RDKit could not parse, or (SELFIES) ``selfies`` could not encode."""
    too_long: int
    """Valid inputs longer than the vocabulary's ``max_length`` (skipped)."""


def molecule_strings(smiles: Sequence[str], representation: Representation,
                     ) -> tuple[list[str], int]:
    """The valid molecules of ``smiles`` in ``representation`` (as written for SMILES), and the
    number skipped as invalid."""
    chem = _rdkit()
    out = []
    for s in smiles:
        if not s or chem.MolFromSmiles(s) is None:
            continue
        if representation == "selfies":
            s = to_selfies(s)
            if s is None:
                continue
        out.append(s)
    return out, len(smiles) - len(out)


def encode_molecules(smiles: Sequence[str], vocab: Vocabulary) -> Encoded:
    """Token ids of the valid molecules of ``smiles`` in ``vocab``'s representation; invalid and
    over-long ones are skipped and counted; a token outside ``vocab`` is a one-line error."""
    strings, invalid = molecule_strings(smiles, vocab.representation)
    kept = [s for s in strings if len(tokenize(s, vocab.representation)) <= vocab.max_length]
    ids = vocab.encode(kept) if kept else np.zeros((0, vocab.sequence_length), np.int32)
    dtype = np.uint8 if vocab.size <= 256 else np.int32
    return Encoded(ids.astype(dtype), kept, invalid, len(strings) - len(kept))


@dataclasses.dataclass(frozen=True)
class MoleculeSet:
    """A registered molecule data set.

    Attributes:
      name: registry name.
      source: raw files under the data folder: split -> relative path (one file and a
        ``test_fraction`` for a set without splits of its own).
      representation: ``"smiles"`` or ``"selfies"``.
      vocabulary: the set's fixed :class:`Vocabulary`.
      splits: split -> number of kept molecules.
      test_fraction: a set with one file: the share held out as ``test`` (a fixed draw).
    """

    name: str
    source: dict[str, str]
    representation: Representation
    vocabulary: Vocabulary
    splits: dict[str, int]
    test_fraction: float = 0.0


def _tfds_root(tfds_dir: str | os.PathLike | None) -> Path:
    root = tfds_dir or os.environ.get("GEN_JAX_TFDS_DIR") or os.environ.get("TFDS_DATA_DIR")
    return Path(root) if root else Path.home() / "tensorflow_datasets"


def raw_molecules_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the molecule sets' raw files: ``data_dir``, else ``$GEN_JAX_DATA_DIR``
    (one-line DataError when neither is set)."""
    root = data_dir or os.environ.get("GEN_JAX_DATA_DIR")
    if not root:
        raise DataError("molecule data sets are read from local files: set $GEN_JAX_DATA_DIR "
                        "or data.data_dir to the folder holding moses/ (the molsets wheel's "
                        "train.csv.gz, test.csv.gz) and qm9/qm9.csv")
    return Path(root)


def _raw_split(spec: MoleculeSet, split: str, raw: Path) -> list[str]:
    if spec.test_fraction:
        (only,) = spec.source.values()
        smiles = read_smiles(raw / only)
        order = np.random.default_rng(0).permutation(len(smiles))
        n_test = round(spec.test_fraction * len(smiles))
        rows = np.sort(order[:n_test] if split == "test" else order[n_test:])
        return [smiles[i] for i in rows]
    return read_smiles(raw / spec.source[split])


def prepare_molecules(spec: MoleculeSet, split: str, *,
                      data_dir: str | os.PathLike | None = None,
                      tfds_dir: str | os.PathLike | None = None) -> Path:
    """Encodes one split once and keeps it (``.npy``, with a JSON record beside it)."""
    folder = _tfds_root(tfds_dir) / "gen_jax_molecules" / spec.name / f"v{PREPARED_FORMAT}"
    path = folder / f"{split}.npy"
    if path.is_file():
        return path
    raw = raw_molecules_dir(data_dir)
    files = list(spec.source.values())
    missing = [f for f in files if not (raw / f).is_file()]
    if missing:
        raise DataError(f"{spec.name}: no {missing[0]} under {raw}; the MOSES files come from "
                        "the molsets wheel (pip download --no-deps molsets==0.3.1), QM9 from "
                        "its csv with a smiles column")
    encoded = encode_molecules(_raw_split(spec, split, raw), spec.vocabulary)
    if len(encoded.x) != spec.splits[split]:
        raise DataError(f"{spec.name} split {split!r}: {len(encoded.x)} molecules encode under "
                        f"{raw}, the set has {spec.splits[split]} ({encoded.invalid} invalid, "
                        f"{encoded.too_long} too long); the raw file differs from the one the "
                        "set was defined on")
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / f"{split}.json", (
        f'{{"invalid": {encoded.invalid}, "too_long": {encoded.too_long}, '
        f'"num": {len(encoded.x)}}}\n'))
    write_atomic_with(path, lambda tmp: np.save(tmp, encoded.x))
    return path


def load_molecules(spec: MoleculeSet, split: str, *, data_dir: str | os.PathLike | None = None,
                   tfds_dir: str | os.PathLike | None = None) -> np.ndarray:
    """The ``[N, max_length + 2]`` token ids of one split (prepared on first use)."""
    return np.load(prepare_molecules(spec, split, data_dir=data_dir, tfds_dir=tfds_dir),
                   mmap_mode="r")


def scan_molecules(path: Path, test_fraction: float | None) -> Any:
    """A user's SMILES file (:func:`read_smiles`) as an own-data scan: the valid molecules
    (invalid ones skipped, counted, and named in a warning) encoded with a vocabulary of every
    token they hold, split like any own data (``test_fraction``; None: one split ``"all"``)."""
    from ._own_read import Scan, split_indices  # noqa: PLC0415 -- the own-data layer's types

    raw = read_smiles(path)
    strings, invalid = molecule_strings(raw, "smiles")
    if not strings:
        raise DataError(f"{path} holds no valid SMILES ({invalid} invalid): check the file")
    if invalid:
        bad = next(s for s in raw if not s or _rdkit().MolFromSmiles(s) is None)
        warnings.warn(f"{path}: {invalid} of {len(raw)} SMILES are invalid and were skipped "
                      f"(the first: {bad!r})", stacklevel=2)
    tokens = [tokenize(s, "smiles") for s in strings]
    vocab = Vocabulary.build(tokens, "smiles")
    if vocab.size > 256:
        raise DataError(f"{path} holds {vocab.size - 3} distinct SMILES tokens; at most 253 fit "
                        "the 8-bit ids: drop the molecules with rare bracket atoms")
    x = vocab.encode(strings).astype(np.uint8)
    splits = {name: (x[rows], None) for name, rows in
              split_indices(len(x), test_fraction, path).items()}
    return Scan("molecules", (vocab.sequence_length,), vocab.size, (), (), splits,
                vocabulary=vocab.tokens)


def encode_new_molecules(path: Path, tokens: tuple[str, ...], length: int) -> np.ndarray:
    """A new SMILES file's molecules as ids of a trained run's vocabulary (``tokens``,
    sequences of ``length`` ids): invalid and over-long molecules are skipped with a warning;
    a token the run never saw is a one-line error."""
    vocab = Vocabulary(tokens, "smiles", length - 2)
    encoded = encode_molecules(read_smiles(path), vocab)
    skipped = encoded.invalid + encoded.too_long
    if skipped:
        warnings.warn(f"{path}: {encoded.invalid} invalid and {encoded.too_long} over-long "
                      f"(more than {vocab.max_length} tokens) SMILES skipped", stacklevel=2)
    if not len(encoded.x):
        raise DataError(f"{path} holds no valid SMILES the run can read")
    return encoded.x
