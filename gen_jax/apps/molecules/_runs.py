"""A training run on molecules, as SMILES in and SMILES out: its vocabulary, its model-space
encoding of molecules, and the decoding of its token ids (SELFIES runs: back to SMILES)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ... import data as gdata
from ... import models
from ...data import Vocabulary


class MoleculeRun:
    """A loaded run (:func:`gen_jax.train.load_run`) trained on token sequences of molecules.

    Attributes:
      run: the loaded run.
      vocabulary: its tokens, representation and length.
      variables: the parameters it samples with (EMA where it keeps one), on one device.

    Raises:
      ValueError: the run was not trained on molecules.
    """

    def __init__(self, run: Any):
        info = run.info
        if info.vocabulary is None:
            raise ValueError(f"{run.config.train.workdir} was trained on {info.name}, not on "
                             "molecules (token sequences: --data.name moses, qm9, ...)")
        spec = gdata.MOLECULE_SETS.get(info.name)
        representation = spec.vocabulary.representation if spec is not None else "smiles"
        self.run, self.model = run, run.model
        self.vocabulary = Vocabulary(tuple(info.vocabulary), representation, info.shape[0] - 2)
        self.variables = run.strategy.unreplicated(run.state.variables(ema=True))

    @property
    def levels(self) -> int:
        return self.vocabulary.size

    def values(self, ids: np.ndarray) -> jax.Array:
        """Ids ``[N, T]`` as the model reads them (``id / (levels - 1)``, float32)."""
        return jnp.asarray(np.asarray(ids, np.float32) / (self.levels - 1))

    def encodable(self, smiles: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """Ids ``[K, T]`` of the molecules of ``smiles`` this run can read, and their indices in
        ``smiles``: invalid molecules, molecules longer than the vocabulary's ``max_length`` and
        molecules with a token it lacks are left out."""
        known = set(self.vocabulary.tokens[3:])
        selfies = self.vocabulary.representation == "selfies"
        keep, strings = [], []
        for i, s in enumerate(smiles):
            if not s or gdata.canonical_smiles(s) is None:
                continue
            string = gdata.to_selfies(s) if selfies else s
            if string is None:
                continue
            tokens = self.vocabulary.tokenize(string)
            if len(tokens) <= self.vocabulary.max_length and set(tokens) <= known:
                keep.append(i)
                strings.append(string)
        ids = (self.vocabulary.encode(strings) if strings
               else np.zeros((0, self.vocabulary.sequence_length), np.int32))
        return ids, keep

    def strings(self, values: np.ndarray) -> list[str]:
        """Strings of model-space samples ``[N, T]`` (values ``id / (levels - 1)``) in the run's
        representation (SMILES or SELFIES)."""
        ids = np.rint(np.asarray(values, np.float64) * (self.levels - 1)).astype(np.int64)
        return self.vocabulary.decode(np.clip(ids, 0, self.levels - 1))

    def to_smiles(self, strings: list[str]) -> list[str]:
        """``strings`` in the run's representation as SMILES (SELFIES decoded)."""
        if self.vocabulary.representation == "selfies":
            return [gdata.from_selfies(s) for s in strings]
        return strings

    def smiles(self, values: np.ndarray) -> list[str]:
        """SMILES of model-space samples ``[N, T]``."""
        return self.to_smiles(self.strings(values))

    def require(self, capability: type, what: str, families: str) -> None:
        """One-line ``ValueError`` when the run's family lacks ``capability``."""
        if not isinstance(self.model, capability):
            raise ValueError(f"{what} needs a family with {capability.__name__} ({families}); "
                             f"{self.run.model_name} has none")


def latent_functions(mrun: MoleculeRun):
    """Jitted ``encode(values) -> z`` and ``decode(z) -> values`` of a run with a latent code
    (greedy decoding)."""
    mrun.require(models.LatentCode, "latent-space optimization", "molvae")
    v = mrun.variables
    encode = jax.jit(lambda x: mrun.model.to_latent(v, x))
    decode = jax.jit(lambda z: mrun.model.from_latent(v, z))
    return encode, decode
