"""The loop in-process: full-split evaluation, the non-finite stop, bf16, profiling."""

import dataclasses
import json

import jax.numpy as jnp
import pytest

from gen_jax import models
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from gen_jax.models import VAEConfig
from gen_jax.train import Evaluator, NonFiniteError, build_run, train


def _cfg(tmp_path, **train):
    return ExperimentConfig(
        model=VAEConfig(hidden=(16,), latent_dim=3),
        data=DataConfig(name="digits", batch_size=40),
        optim=OptimConfig(),
        train=TrainConfig(workdir=str(tmp_path), progress=False, log_every=5, eval_every=1000,
                          sample_every=1000, checkpoint_every=1000, **train),
    )


def test_evaluate_counts_every_example_once(tmp_path):
    # 297 test digits with batches of 40: the last batch is padded and its padding ignored.
    cfg = _cfg(tmp_path, steps=1)
    run, _ = build_run(cfg, "vae", restore=False)
    evaluator = Evaluator(run, cfg)
    full = evaluator.evaluate(run.state)
    assert full["num_examples"] == 297
    # The same mean from batches of 297 (one batch, no padding) and of 11 (27 batches).
    for bs in (297, 11):
        other = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, batch_size=bs))
        m = Evaluator(run, other).evaluate(run.state)
        assert m["recon_error"] == pytest.approx(full["recon_error"], rel=1e-5)
        assert m["kl"] == pytest.approx(full["kl"], rel=1e-5)
    part = evaluator.evaluate(run.state, num_examples=50)
    assert part["num_examples"] == 50


class _NaNVAE:
    """A VAE whose loss is always NaN, so every step is skipped."""

    def __init__(self, inner):
        self.inner, self.has_prior = inner, True
        self.init, self.sample, self.evaluate = inner.init, inner.sample, inner.evaluate

    def loss(self, variables, batch, key, *, train):
        loss, aux = self.inner.loss(variables, batch, key, train=train)
        return loss * jnp.nan, aux


def test_nonfinite_streak_stops_with_pointer_to_last_checkpoint(tmp_path, monkeypatch):
    build = models.build
    monkeypatch.setattr(models, "build", lambda *a, **k: _NaNVAE(build(*a, **k)))
    cfg = _cfg(tmp_path, steps=50, max_consecutive_nonfinite=4)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, checkpoint_every=2))
    with pytest.raises(NonFiniteError, match=r"4 steps in a row up to step 4 had a non-finite "
                       r"loss or gradient; the last checkpoint is step 2 in .*checkpoints"):
        train(cfg, "vae")
    # The checkpoint it points at counts the skips and holds the untouched initial params.
    run, _ = build_run(cfg, "vae", restore=True)
    assert int(run.state.step) == 2 and int(run.state.skipped) == 2
    fresh, _ = build_run(dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, workdir=str(tmp_path / "fresh"))), "vae")
    import jax
    import numpy as np

    jax.tree.map(np.testing.assert_array_equal, run.state.params, fresh.state.params)


def test_bfloat16_compute_and_profiler_trace(tmp_path):
    cfg = _cfg(tmp_path, steps=6, compute_dtype="bfloat16", profile_steps=(2, 4))
    final = train(cfg, "vae")
    assert final["num_examples"] == 297 and jnp.isfinite(final["elbo"])
    assert list((tmp_path / "profile").rglob("*.xplane.pb")), "no profiler trace written"
    run, _ = build_run(cfg, "vae")
    params = run.state.params
    assert all(x.dtype == jnp.float32 for x in __import__("jax").tree.leaves(params))
    assert json.loads((tmp_path / "final_metrics.json").read_text()) == final
