"""Evaluation of a run: per-example metrics averaged over a split, and sample grids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import models as gmodels
from ..config import ExperimentConfig
from ..data import ArrayDataset
from ..provenance import Provenance, of_run
from ._data import load_split
from ._logging import save_samples
from ._run import Run
from ._state import TrainState
from ._step import make_eval_step


def preprocess_examples(preprocess: Any, batch: dict[str, jax.Array], index: jax.Array,
                        key: jax.Array) -> dict[str, jax.Array]:
    """``preprocess`` applied to each example alone with the key ``fold_in(key, index)``.

    An evaluation's random data draws (binarization, dequantization noise) are then a function
    of the example's index only: the same whatever the batch size, device count or process,
    and the same for every estimate computed from one key (the ELBO and the
    importance-sampled NLL score the same binarization of the test set).
    """
    def one(example, i):
        out = preprocess({k: v[None] for k, v in example.items()}, jax.random.fold_in(key, i))
        return {k: v[0] for k, v in out.items()}

    return jax.vmap(one)(batch, index)


def _process_rows(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This process's contiguous share of the rows of a global batch."""
    count, index = jax.process_count(), jax.process_index()
    size = len(next(iter(batch.values()))) // count
    return {k: v[index * size:(index + 1) * size] for k, v in batch.items()}


def target_rows(ds: ArrayDataset, rows: np.ndarray) -> dict[str, np.ndarray]:
    """A translation pair's target examples for source ``rows``: the same rows when paired,
    else the target's rows in turn (``rows mod N_target``)."""
    rows = rows if ds.info.paired else rows % len(ds.target)
    out = {"y": ds.target.x[rows]}
    if ds.target.label is not None:
        out["y_label"] = ds.target.label[rows]
    return out


def side_by_side(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Images ``x`` ``[N, H, W, C]`` each followed by ``y[i]`` (same height and width), as
    ``[2N, H, W, C']``: a one-channel side repeated to the other's colour channels."""
    channels = max(x.shape[-1], y.shape[-1])
    x, y = (np.repeat(v, channels // v.shape[-1], axis=-1) for v in (x, y))
    return np.stack([x, y], axis=1).reshape(2 * len(x), *x.shape[1:])


def _to_host(x: jax.Array) -> np.ndarray:
    return np.asarray(x.addressable_data(0)) if x.is_fully_replicated else np.asarray(x)


class Evaluator:
    """Periodic evaluation and sample grids for a run, jitted once and reused."""

    def __init__(self, run: Run, cfg: ExperimentConfig, *, temperature: float = 1.0,
                 label: int | None = None):
        """Args: ``temperature`` scales the prior's standard deviation when sampling (for
        families with :class:`~gen_jax.models.TemperatureSampling`; 1 is the model itself);
        ``label``: a class-conditional model samples only this class (default: the classes in
        turn)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if temperature != 1.0 and not isinstance(run.model, gmodels.TemperatureSampling):
            raise ValueError(f"model {run.model_name!r} has no temperature; sample at "
                             "temperature 1")
        conditional = run.model.num_classes > 0
        if label is not None and not conditional:
            raise ValueError(f"this {run.model_name} run is not class-conditional, so it has no "
                             "label to sample; leave out the label")
        if label is not None and not isinstance(run.model, gmodels.Sampling):
            raise ValueError(f"this {run.model_name} run shows reconstructions of test examples, "
                             "not samples, so it has no label to sample; leave out the label")
        if label is not None and not 0 <= label < run.info.num_classes:
            raise ValueError(f"label {label} is not a class of {run.info.name}; use 0 to "
                             f"{run.info.num_classes - 1}")
        num = cfg.train.num_samples
        self.run, self.cfg = run, cfg
        self._eval_ds = None
        model, strategy = run.model, run.strategy
        # the data draws per example (preprocess_examples), the model's own noise per batch
        eval_step = make_eval_step(model, lambda batch, key: batch, axis_name=strategy.axis_name)

        def eval_sums(state, batch, data_key, key):
            weight = batch["weight"]  # 0 for the padding rows of the last batch
            inputs = {k: v for k, v in batch.items() if k not in ("weight", "index")}
            inputs = preprocess_examples(run.preprocess, inputs, batch["index"], data_key)
            per_example = eval_step(state, inputs, key)
            sums = {k: jnp.sum(v * weight) for k, v in per_example.items()}
            if strategy.axis_name is not None:
                sums = jax.lax.psum(sums, strategy.axis_name)
            return sums

        self._eval = strategy.compile_mapped(eval_sums, in_axes=(0, 0, None, None))
        if conditional:
            label = (jnp.arange(num, dtype=jnp.int32) % run.info.num_classes if label is None
                     else jnp.full((num,), label, jnp.int32))
        prepare = (model.sampling_variables if isinstance(model, gmodels.SamplingVariables)
                   else None)
        self._prepare = None if prepare is None else jax.jit(prepare)
        # Evaluation with the sampling statistics too, computed once per evaluate() call: the
        # state's batch statistics replaced by those of the (EMA) variables, prepared.
        self._eval_state = None
        if prepare is not None:
            def eval_state(state):
                return state.replace(
                    batch_stats=prepare(state.variables(ema=True)).get("batch_stats", {}))
            self._eval_state = strategy.compile_mapped(eval_state, in_axes=(0,))
        if temperature != 1.0:
            self._sample = jax.jit(lambda variables, key: model.sample_at_temperature(
                variables, key, num, temperature, label=label))
        elif isinstance(model, gmodels.Sampling):
            self._sample = jax.jit(
                lambda variables, key: model.sample(variables, key, num, label=label))
        else:  # no prior: reconstructions instead (see samples())
            self._sample = None

    def evaluate(self, state: TrainState, num_examples: int | None = None,
                 key: jax.Array | None = None) -> dict[str, float]:
        """Mean per-example metrics over the first ``num_examples`` of the eval split (all: None),
        with the (EMA) parameters and the batch statistics of the model's
        ``sampling_variables`` when it has one (computed once per call).

        ``key`` (default ``PRNGKey(train.seed + 1)``) decides every random draw: its first half
        the data draws, per example (:func:`preprocess_examples`), its second the model's own
        noise (e.g. a VAE's latent samples), per batch.

        The last batch is padded to full size (with the split's first examples) and its padding
        rows get weight 0, so every example counts exactly once whatever the batch size and
        device count.
        """
        cfg, strategy = self.cfg, self.run.strategy
        if self._eval_ds is None:
            self._eval_ds = load_split(cfg, cfg.data.eval_split)
        ds = self._eval_ds
        n = len(ds) if num_examples is None else min(num_examples, len(ds))
        bs = cfg.data.batch_size
        key = jax.random.PRNGKey(cfg.train.seed + 1) if key is None else key
        data_key, noise_key = jax.random.split(key)
        if self._eval_state is not None and state.batch_stats:
            state = self._eval_state(state)  # e.g. a GAN's standing statistics
        total = None
        for i, start in enumerate(range(0, n, bs)):
            rows = np.arange(start, start + bs)
            weight = (rows < n).astype(np.float32)
            # Pad with the split's first examples, weighted 0: other rows, not copies of this
            # batch's, so a packed model (PacGAN) still sees each real example packed with
            # other examples, as in training.
            rows = rows % n
            batch = {"x": ds.x[rows], "weight": weight, "index": rows.astype(np.int32)}
            if ds.label is not None:
                batch["label"] = ds.label[rows]
            if ds.target is not None:  # a translation pair: the counterparts, or in turn
                batch |= target_rows(ds, rows)
            local = _process_rows(batch)
            sums = self._eval(state, strategy.place_batch(local), data_key,
                              jax.random.fold_in(noise_key, i))
            total = sums if total is None else jax.tree.map(jnp.add, total, sums)
        means = {k: float(v) / n for k, v in strategy.fetch(total).items()}
        return means | {"num_examples": float(n)}

    def samples(self, state: TrainState, key: jax.Array | None = None) -> np.ndarray:
        """``num_samples`` samples from the (EMA) parameters (through the model's
        ``sampling_variables`` when it has :class:`~gen_jax.models.SamplingVariables`), on the
        host.

        For a family without a prior: test examples and their reconstructions (a translation
        family: their translations), interleaved.
        """
        strategy = self.run.strategy
        variables = strategy.unreplicated(state.variables(ema=True))
        if self._prepare is not None:  # e.g. a GAN's standing statistics, once per call
            variables = self._prepare(variables)
        key = jax.random.PRNGKey(self.cfg.train.seed + 2) if key is None else key
        if self._sample is None:
            return self._reconstructions(variables, key)
        return _to_host(self._sample(variables, key))

    def _reconstructions(self, variables, key: jax.Array) -> np.ndarray:
        if self._eval_ds is None:
            self._eval_ds = load_split(self.cfg, self.cfg.data.eval_split)
        # num_samples // 2 pairs (gen-jax sample and eval refuse an odd count up front; a
        # training run's grids are not worth stopping it for)
        n = max(self.cfg.train.num_samples // 2, 1)
        batch = {"x": self._eval_ds.x[:n]}
        if self._eval_ds.label is not None:
            batch["label"] = self._eval_ds.label[:n]
        model_batch = self.run.preprocess(batch, key)
        if isinstance(self.run.model, gmodels.Translation):  # each followed by its translation
            out = jax.jit(self.run.model.translate)(variables, model_batch["x"])
            return side_by_side(_to_host(model_batch["x"]), _to_host(out))
        recon = jax.jit(self.run.model.reconstruct)(variables, model_batch["x"],
                                                    model_batch.get("label"))
        return side_by_side(_to_host(model_batch["x"]), _to_host(recon))

    def write_samples(self, state: TrainState, path: Path) -> None:
        samples = self.samples(state)
        if jax.process_index() == 0:
            save_samples(samples, path, self.run.info,
                         provenance=self.provenance(int(self.run.strategy.fetch(state.step))))

    def provenance(self, step: int | None = None) -> Provenance:
        """The provenance (:mod:`gen_jax.provenance`) of what :meth:`samples` draws at
        ``step`` (default: the run's restored step): a model's samples, or, for a family
        without a prior, test examples each followed by its reconstruction or translation."""
        if isinstance(self.run.model, gmodels.Sampling):
            return of_run(self.run, "generated", "samples of a gen_jax model", step=step)
        if isinstance(self.run.model, gmodels.Translation):
            return of_run(self.run, "mixed", "test examples, each followed by its translation "
                          f"to {self.run.info.target.name} by a gen_jax model", step=step)
        return of_run(self.run, "mixed", "test examples, each followed by its reconstruction "
                      "by a gen_jax model", step=step)
