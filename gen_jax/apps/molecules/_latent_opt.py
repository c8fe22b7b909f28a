"""Property optimization in a sequence VAE's latent space: a property predictor on the latent
codes, gradient ascent along it, Bayesian optimization (GP + expected improvement), and JT-VAE's
constrained task (improve a molecule while keeping it similar).

The latent codes are the posterior means of the encoder (:class:`~gen_jax.models.LatentCode`),
points are decoded greedily, and every decoded molecule is scored through an :class:`Oracle`, so
its budget counts what each method looked at.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _chem, _gp
from ._objective import Oracle, Round
from ._runs import MoleculeRun, latent_functions


class LatentSpace:
    """SMILES <-> latent points of a run with a latent code, in batches."""

    def __init__(self, mrun: MoleculeRun, batch_size: int = 500):
        self.mrun, self.batch_size = mrun, batch_size
        self._encode, self._decode = latent_functions(mrun)

    def encode(self, smiles: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """Latent points ``[K, D]`` of the molecules the run can read, and their indices in
        ``smiles`` (the others are left out: see :meth:`MoleculeRun.encodable`)."""
        ids, keep = self.mrun.encodable(smiles)
        out = [np.asarray(self._encode(self._pad(self.mrun.values(ids[i:i + self.batch_size]))))
               [:len(ids[i:i + self.batch_size])] for i in range(0, len(ids), self.batch_size)]
        dim = self._decode_dim()
        return (np.concatenate(out) if out else np.zeros((0, dim), np.float32)), keep

    def decode(self, z: np.ndarray) -> list[str]:
        """The greedy decoding of each point of ``z`` ``[N, D]`` as SMILES."""
        out: list[str] = []
        for i in range(0, len(z), self.batch_size):
            chunk = np.asarray(z[i:i + self.batch_size], np.float32)
            values = np.asarray(self._decode(self._pad(chunk)))[:len(chunk)]
            out += self.mrun.smiles(values)
        return out

    def _pad(self, x: Any) -> jax.Array:
        """Rows padded to the batch size, so one compiled function serves every call."""
        x = jnp.asarray(x)
        if len(x) == self.batch_size:
            return x
        return jnp.concatenate([x, jnp.zeros((self.batch_size - len(x), *x.shape[1:]),
                                             x.dtype)])

    def _decode_dim(self) -> int:
        shape = (self.batch_size, self.mrun.vocabulary.sequence_length)
        return int(jax.eval_shape(self._encode, jax.ShapeDtypeStruct(shape, jnp.float32))
                   .shape[-1])


class _MLP(nn.Module):
    hidden: int
    layers: int

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        for _ in range(self.layers):
            z = nn.silu(nn.Dense(self.hidden)(z))
        return nn.Dense(1)(z)[..., 0]


@dataclasses.dataclass
class PropertyPredictor:
    """An MLP from latent points to a property, with the targets' standardization.

    Attributes:
      params: the MLP's parameters.
      y_mean, y_std: the training targets' mean and deviation.
      valid_rmse: the root-mean-square error on the held-out tenth (targets' units).
    """

    net: _MLP
    params: Any
    y_mean: float
    y_std: float
    valid_rmse: float

    def __call__(self, z: jax.Array) -> jax.Array:
        """Predicted property ``[N]`` at ``z`` ``[N, D]``."""
        return self.net.apply({"params": self.params}, z) * self.y_std + self.y_mean


def fit_predictor(z: np.ndarray, y: np.ndarray, key: jax.Array, *, hidden: int = 256,
                  layers: int = 2, steps: int = 3000, batch_size: int = 256,
                  learning_rate: float = 1e-3, weight_decay: float = 1e-4) -> PropertyPredictor:
    """An MLP predictor of ``y`` ``[N]`` from latent points ``z`` ``[N, D]`` (NaN targets
    dropped), trained with AdamW on the squared error of standardized targets; a random tenth
    is held out to report ``valid_rmse``."""
    z, y = np.asarray(z, np.float32), np.asarray(y, np.float64)
    keep = np.isfinite(y)
    z, y = z[keep], y[keep]
    if len(y) < 10:
        raise ValueError(f"a property predictor needs at least 10 scored molecules, got {len(y)}")
    key_split, key_init, key_train = jax.random.split(key, 3)
    order = np.asarray(jax.random.permutation(key_split, len(y)))
    held = order[:max(1, len(y) // 10)]
    train = order[len(held):]
    y_mean, y_std = float(np.mean(y[train])), float(np.std(y[train])) or 1.0
    ys = ((y - y_mean) / y_std).astype(np.float32)
    net = _MLP(hidden, layers)
    params = net.init(key_init, jnp.zeros((1, z.shape[1])))["params"]
    tx = optax.adamw(optax.cosine_decay_schedule(learning_rate, steps), weight_decay=weight_decay)
    zt, yt = jnp.asarray(z[train]), jnp.asarray(ys[train])

    def step(carry, k):
        p, state = carry
        idx = jax.random.randint(k, (min(batch_size, len(train)),), 0, len(train))

        def loss(p):
            return jnp.mean((net.apply({"params": p}, zt[idx]) - yt[idx]) ** 2)

        value, grad = jax.value_and_grad(loss)(p)
        updates, state = tx.update(grad, state, p)
        return (optax.apply_updates(p, updates), state), value

    run = jax.jit(lambda p, keys: jax.lax.scan(step, (p, tx.init(p)), keys)[0][0])
    params = run(params, jax.random.split(key_train, steps))
    pred = np.asarray(net.apply({"params": params}, jnp.asarray(z[held])))
    rmse = float(np.sqrt(np.mean((pred - ys[held]) ** 2))) * y_std
    return PropertyPredictor(net, params, y_mean, y_std, rmse)


def gradient_path(predictor: PropertyPredictor, z0: np.ndarray, *, steps: int,
                  learning_rate: float) -> np.ndarray:
    """``[steps + 1, N, D]``: ``z0`` and each step of gradient ascent ``z += lr * grad f(z)`` of
    the predicted property (JT-VAE's latent-space optimization)."""
    grad = jax.grad(lambda z: jnp.sum(predictor(z)))

    def body(z, _):
        z = z + learning_rate * grad(z)
        return z, z

    z0 = jnp.asarray(z0, jnp.float32)
    _, path = jax.jit(lambda z: jax.lax.scan(body, z, None, length=steps))(z0)
    return np.concatenate([np.asarray(z0)[None], np.asarray(path)])


def gradient_ascent(space: LatentSpace, predictor: PropertyPredictor, oracle: Oracle,
                    starts: np.ndarray, *, steps: int = 80, learning_rate: float = 0.1,
                    report: Callable[[Round], None] | None = None) -> list[Round]:
    """Gradient ascent of the predictor from each start ``[N, D]``; the points of each path are
    decoded and scored, step by step (all paths' step 1, then step 2, ...), until the path ends
    or the oracle's budget is spent. One :class:`Round` per step."""
    path = gradient_path(predictor, starts, steps=steps, learning_rate=learning_rate)
    rounds = []
    for t in range(1, steps + 1):
        if oracle.remaining <= 0:
            break
        smiles = space.decode(path[t])
        rounds.append(Round(smiles, oracle(smiles), oracle.calls))
        if report:
            report(rounds[-1])
    return rounds


def bayesian_optimization(space: LatentSpace, oracle: Oracle, z: np.ndarray, y: np.ndarray,
                          key: jax.Array, *, iterations: int = 10, batch: int = 50,
                          candidates: int = 500, restarts: int = 8,
                          penalize_invalid: bool = True,
                          report: Callable[[Round], None] | None = None) -> list[Round]:
    """JT-VAE's latent-space BO: a GP on the labelled points ``z`` ``[N, D]``, ``y`` ``[N]``;
    each of ``iterations`` rounds refits its hyperparameters, proposes ``batch`` points by
    expected improvement within the labelled points' bounding box, decodes and scores them,
    and adds them (at the proposed points) to the GP. A point that decodes to no scorable
    molecule enters the GP with the lowest labelled score when ``penalize_invalid`` (so the
    next rounds learn to avoid it; JT-VAE dropped such points), else it is left out."""
    y = np.asarray(y, np.float64)
    worst = float(np.nanmin(y))
    capacity = int(np.isfinite(y).sum()) + (iterations + 1) * batch
    gp = _gp.fit_gp(z, y, capacity=capacity)
    low, high = np.min(z, axis=0), np.max(z, axis=0)
    rounds = []
    for i, k in enumerate(jax.random.split(key, iterations)):
        if oracle.remaining <= 0:
            break
        if i:
            gp = _gp.refit(gp)
        proposed = _gp.propose(gp, k, batch, low=low, high=high, candidates=candidates,
                               restarts=restarts)
        smiles = space.decode(proposed)
        scores = oracle(smiles)
        gp = _gp.add_points(gp, proposed, np.where(np.isnan(scores), worst, scores)
                            if penalize_invalid else scores)
        rounds.append(Round(smiles, scores, oracle.calls))
        if report:
            report(rounds[-1])
    return rounds


def similarity(a: str, b: str, *, radius: int = 2, bits: int = 2048) -> float:
    """Tanimoto similarity of two molecules' Morgan fingerprints (radius 2, 2048 bits: the
    constrained task's similarity in JT-VAE); NaN when either is invalid."""
    ma, mb = _chem.mol(a), _chem.mol(b)
    if ma is None or mb is None:
        return math.nan
    fa, fb = _chem.morgan_bits(ma, radius, bits), _chem.morgan_bits(mb, radius, bits)
    union = np.sum(fa | fb)
    return float(np.sum(fa & fb) / union) if union else 1.0


@dataclasses.dataclass(frozen=True)
class Improvement:
    """The constrained task's outcome for one start molecule."""

    start: str
    start_score: float
    best: str
    """The best decoded molecule with similarity >= delta and a higher score (else ``start``)."""
    best_score: float
    similarity: float
    candidates: int
    """Distinct valid molecules other than the start decoded along the path."""
    reconstruction_similarity: float
    """Similarity to the start of the decoding of its own latent point (1: reconstructed; NaN:
    that decoding is invalid)."""

    @property
    def improvement(self) -> float:
        return self.best_score - self.start_score

    @property
    def success(self) -> bool:
        return self.best != self.start


def constrained_optimization(space: LatentSpace, predictor: PropertyPredictor, oracle: Oracle,
                             starts: Sequence[str], *, delta: float = 0.4, steps: int = 80,
                             learning_rate: float = 0.1,
                             report: Callable[[Improvement], None] | None = None,
                             ) -> list[Improvement]:
    """JT-VAE's constrained optimization: from each start molecule's latent point, ``steps``
    steps of gradient ascent of the predictor; of the distinct molecules decoded along the path,
    the best-scoring one with Tanimoto similarity >= ``delta`` to the start and a higher score
    than the start's. A start the run cannot read is left out."""
    if not 0.0 <= delta <= 1.0:
        raise ValueError(f"delta (the similarity constraint) must lie in [0, 1], got {delta}")
    z, keep = space.encode(starts)
    path = gradient_path(predictor, z, steps=steps, learning_rate=learning_rate)
    decoded = [space.decode(path[t]) for t in range(steps + 1)]
    out = []
    for j, i in enumerate(keep):
        start = _chem.canonical(starts[i]) or starts[i]
        recon = similarity(start, decoded[0][j]) if decoded[0][j] else math.nan
        start_score = float(oracle([start])[0])
        seen = {start}
        best, best_score, best_sim = start, start_score, 1.0
        for t in range(1, steps + 1):
            s = decoded[t][j]
            c = _chem.canonical(s) if s else None
            if c is None or c in seen:
                continue
            seen.add(c)
            score = float(oracle([c])[0])
            sim = similarity(start, c)
            if sim >= delta and score > best_score:
                best, best_score, best_sim = c, score, sim
        out.append(Improvement(start, start_score, best, best_score, best_sim, len(seen) - 1,
                               recon))
        if report:
            report(out[-1])
    return out
