"""The loop in-process: full-split evaluation, the non-finite stop, bf16, profiling; a run
saved with new parameters (save_run)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import models
from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig, save_json
from gen_jax.models import GANConfig, VAEConfig
from gen_jax.train import Evaluator, NonFiniteError, build_run, load_run, save_run, train


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
        self.inner, self.info, self.num_classes = inner, inner.info, inner.num_classes
        self.init, self.sample, self.evaluate = inner.init, inner.sample, inner.evaluate
        self.anomaly_score = inner.anomaly_score

    def loss(self, variables, batch, key, *, train):
        loss, aux = self.inner.loss(variables, batch, key, train=train)
        return loss * jnp.nan, aux


def test_nonfinite_streak_stops_with_pointer_to_last_checkpoint(tmp_path, monkeypatch):
    build = models.build
    monkeypatch.setattr(models, "build", lambda *a, **k: _NaNVAE(build(*a, **k)))
    cfg = _cfg(tmp_path, steps=50, max_consecutive_nonfinite=4)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, checkpoint_every=2))
    with pytest.raises(NonFiniteError, match=r"4 steps in a row \(checked at step 4\) had a "
                       r"non-finite loss or gradient; the last checkpoint is step 2 in "
                       r".*checkpoints: resume with a lower --optim.learning-rate"):
        train(cfg, "vae")
    # The checkpoint it points at counts the skips and holds the untouched initial params.
    run, _ = build_run(cfg, "vae", restore=True)
    assert int(run.state.step) == 2 and int(run.state.skipped) == 2
    fresh, _ = build_run(dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, workdir=str(tmp_path / "fresh"))), "vae")
    import jax
    import numpy as np

    jax.tree.map(np.testing.assert_array_equal, run.state.params, fresh.state.params)


def test_no_checkpoint_holds_a_streak_that_trips_the_guard(tmp_path, monkeypatch):
    # Checked every 3 steps (log_every), saved every 4: the guard also runs before the save at
    # step 4, so that save does not happen, and resuming after a fix trains on.
    build = models.build
    monkeypatch.setattr(models, "build", lambda *a, **k: _NaNVAE(build(*a, **k)))
    cfg = _cfg(tmp_path, steps=12, max_consecutive_nonfinite=4)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, log_every=3,
                                                             checkpoint_every=4))
    with pytest.raises(NonFiniteError, match=r"4 steps in a row \(checked at step 4\) .*no "
                       r"checkpoint was written yet"):
        train(cfg, "vae")
    monkeypatch.setattr(models, "build", build)  # the fix: a model with a finite loss
    assert jnp.isfinite(train(cfg, "vae")["elbo"])


def test_a_resume_that_trains_nothing_keeps_the_record_of_what_was_trained(tmp_path):
    cfg = _cfg(tmp_path, steps=4)
    train(cfg, "vae")
    record = (tmp_path / "config.json").read_text()
    other = dataclasses.replace(cfg, optim=OptimConfig(learning_rate=0.5))
    # Fewer steps than the checkpoint: nothing trains, and it says so.
    with pytest.warns(UserWarning, match=r"checkpoint at step 4, past train.steps 2: nothing to "
                      r"train"):
        train(dataclasses.replace(other, train=dataclasses.replace(cfg.train, steps=2)), "vae")
    # A batch larger than the data: stopped before training.
    with pytest.raises(ValueError, match="is larger than the 1500 training examples"):
        train(dataclasses.replace(other, data=dataclasses.replace(cfg.data, batch_size=100_000),
                                  train=dataclasses.replace(cfg.train, steps=6)), "vae")
    assert (tmp_path / "config.json").read_text() == record
    # So a later resume under the new rate is still named as a change.
    with pytest.warns(UserWarning, match=r"resuming .* at step 4 with settings that differ"):
        train(dataclasses.replace(other, train=dataclasses.replace(cfg.train, steps=6)), "vae")


def test_bfloat16_compute_keeps_float32_params(tmp_path):
    cfg = _cfg(tmp_path, steps=6, compute_dtype="bfloat16")
    final = train(cfg, "vae")
    assert final["num_examples"] == 297 and jnp.isfinite(final["elbo"])
    run, _ = build_run(cfg, "vae")
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(run.state.params))
    # The matmuls of the loss really run in bfloat16.
    batch = run.preprocess({"x": np.zeros((4, 8, 8, 1), np.uint8),
                            "label": np.zeros(4, np.int32)}, jax.random.PRNGKey(0))
    jaxpr = jax.make_jaxpr(lambda v: run.model.loss(v, batch, jax.random.PRNGKey(1),
                                                    train=True))(run.state.variables())
    assert "bf16[4,16]" in str(jaxpr), "the hidden layer does not compute in bfloat16"


def test_production_step_compiles_once_on_loader_batches(tmp_path):
    from gen_jax import data
    from gen_jax.train import load_split, make_train_step

    cfg = _cfg(tmp_path, steps=5)
    run, _ = build_run(cfg, "vae")
    traces = []
    inner = make_train_step(run.model, run.preprocess)

    def counted(state, batch):
        traces.append(1)
        return inner(state, batch)

    step = run.strategy.compile(counted, run.state)
    state = run.state
    with data.Loader(load_split(cfg, "train"), 40, seed=0, put=run.strategy.place_batch) as it:
        for _ in range(5):
            state, _ = step(state, next(it))
    assert len(traces) == 1 and int(state.step) == 5


def test_profiler_trace_survives_a_resume_inside_its_window(tmp_path):
    train(_cfg(tmp_path, steps=3, profile_steps=(2, 5)), "vae")
    train(_cfg(tmp_path, steps=6, profile_steps=(2, 5)), "vae")  # resumes at 3, inside
    assert len(list((tmp_path / "profile").rglob("*.xplane.pb"))) == 2


def test_data_dependent_init_reads_the_training_split_loaded_for_training(tmp_path, monkeypatch):
    # Glow's ActNorm layers are initialized from the first training examples: the loop hands
    # them the split it loads for training instead of loading it a second time.
    from gen_jax import data as gdata
    from gen_jax.train import _run

    loads, init_batches = [], []
    real_load, real_init_batch = gdata.load, _run._init_batch

    def counting_load(name, split, **kwargs):
        loads.append(split)
        return real_load(name, split, **kwargs)

    monkeypatch.setattr(gdata, "load", counting_load)
    monkeypatch.setattr(_run, "_init_batch", lambda *a, **k: init_batches.append(
        real_init_batch(*a, **k)) or init_batches[-1])
    cfg = ExperimentConfig(
        model=models.GlowConfig(num_layers=1, hidden=(8,), num_levels=1, init_examples=64),
        data=DataConfig(name="digits", batch_size=32),
        optim=OptimConfig(),
        train=TrainConfig(workdir=str(tmp_path), steps=1, progress=False, eval_every=1000,
                          sample_every=1000, checkpoint_every=1000, num_eval_examples=32),
    )
    train(cfg, "glow")
    assert loads.count("train") == 1, loads
    # The initialization saw the first 64 examples of that split.
    (batch,) = init_batches
    np.testing.assert_array_equal(batch["x"], real_load("digits", "train", seed=0).x[:64])


def test_label_is_refused_where_there_is_nothing_to_sample(tmp_path):
    # A conditional autoencoder shows reconstructions, not samples: a label would be ignored.
    cfg = ExperimentConfig(model=models.AutoencoderConfig(hidden=(16,), latent_dim=3,
                                                          conditional=True),
                           data=DataConfig(name="digits", batch_size=40),
                           train=TrainConfig(workdir=str(tmp_path), num_samples=8))
    run, _ = build_run(cfg, "ae", restore=False)
    with pytest.raises(ValueError, match="shows reconstructions of test examples, not samples"):
        Evaluator(run, cfg, label=3)


def test_sample_grids_use_the_models_sampling_variables(tmp_path):
    # A GAN with standing statistics: the Evaluator samples with them, computed once.
    cfg = ExperimentConfig(
        model=models.GANConfig(latent_dim=2, g_hidden=(16,), d_hidden=(8,), d_maxout_pieces=2,
                               standing_stats=2),
        data=DataConfig(name="ring8", batch_size=32),
        train=TrainConfig(workdir=str(tmp_path), num_samples=16))
    run, _ = build_run(cfg, "gan", restore=False)
    key = jax.random.PRNGKey(4)
    got = Evaluator(run, cfg).samples(run.state, key)
    raw = run.state.variables(ema=True)
    expected = run.model.sample(run.model.sampling_variables(raw), key, 16)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(got - np.asarray(run.model.sample(raw, key, 16))).max() > 1e-4


def test_evaluation_uses_the_models_sampling_variables(tmp_path):
    # The same GAN evaluated with standing statistics equals, metric for metric, a run without
    # them whose state holds those statistics; and differs from its running statistics.
    def run_of(standing, workdir):
        cfg = ExperimentConfig(
            model=models.GANConfig(latent_dim=2, g_hidden=(16,), d_hidden=(8,),
                                   d_maxout_pieces=2, standing_stats=standing,
                                   init_std=None),  # LeCun init: logits of order 1
            data=DataConfig(name="ring8", batch_size=32),
            train=TrainConfig(workdir=str(workdir), num_samples=16))
        return build_run(cfg, "gan", restore=False)[0], cfg

    run, cfg = run_of(2, tmp_path / "a")
    plain, plain_cfg = run_of(0, tmp_path / "b")
    prepared = run.model.sampling_variables(run.state.variables(ema=True))
    got = Evaluator(run, cfg).evaluate(run.state, 64)
    expected = Evaluator(plain, plain_cfg).evaluate(
        run.state.replace(batch_stats=prepared["batch_stats"]), 64)
    assert got.keys() == expected.keys()
    for name in got:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, err_msg=name)
    running = Evaluator(plain, plain_cfg).evaluate(run.state, 64)
    assert abs(got["d_fake"] - running["d_fake"]) > 1e-4


def test_packed_evaluation_does_not_depend_on_the_batch_size(tmp_path):
    # 9 examples in packs of 2: the last example is packed with the split's first one whatever
    # the batch size (padding continues from the start of the split), never with a copy of
    # itself, so each example's d_real (the logit of its pack) is the same for every batch size.
    def evaluate(batch_size):
        cfg = ExperimentConfig(
            model=GANConfig(latent_dim=2, g_hidden=(16,), d_hidden=(8,), d_maxout_pieces=3,
                            pac=2),
            data=DataConfig(name="ring8", batch_size=batch_size), optim=OptimConfig(),
            train=TrainConfig(workdir=str(tmp_path / str(batch_size)), progress=False, steps=1))
        run, _ = build_run(cfg, "gan", restore=False)
        return Evaluator(run, cfg).evaluate(run.state, num_examples=9)

    full = evaluate(10)  # one batch: 9 examples and one padding row
    for bs in (2, 4, 6):
        assert evaluate(bs)["d_real"] == pytest.approx(full["d_real"], rel=1e-5, abs=1e-6)


def test_load_run_says_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match=f"^{tmp_path} has no config.json; pass the --workdir"):
        load_run(tmp_path)
    (tmp_path / "config.json").write_text('{"model_name": "pixelcnn"}')
    with pytest.raises(ValueError, match="names model 'pixelcnn', which this gen_jax does not "
                                         "have; known: ae, charrnn, cyclegan, diffusion, "
                                         "flow_matching, gan, glow, m1m2, m2, maf, molvae, nsf, "
                                         "pix2pix, ppca, realnvp, ssl_gan, transformer_lm, vae$"):
        load_run(tmp_path)
    # A config whose recorded workdir has checkpoints does not count: load_run reads its own.
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "checkpoints" / "10").mkdir(parents=True)
    cfg = ExperimentConfig(model=VAEConfig(), train=TrainConfig(workdir=str(elsewhere)))
    save_json(cfg, "vae", tmp_path / "config.json")
    with pytest.raises(ValueError, match=f"^{tmp_path} has no checkpoint yet; train first$"):
        load_run(tmp_path)


def test_host_dispatches_at_most_a_few_steps_ahead(tmp_path, monkeypatch):
    # A host far ahead of the devices fills XLA:CPU's per-device queue; in multi-process runs
    # that deadlocked (see _loop.MAX_STEPS_IN_FLIGHT). Slow the step down on the device side and
    # count, at each dispatch, the earlier steps whose results are not ready yet.
    from gen_jax.train import JitStrategy, _loop

    real_step_of, real_compile = _loop.make_train_step, JitStrategy.compile
    pending, outs = [], []

    def slow_step_of(*args, **kwargs):
        inner = real_step_of(*args, **kwargs)

        def step(state, batch):  # plus ~50 ms of matrix products the results depend on
            state, metrics = inner(state, batch)
            x = jax.lax.fori_loop(0, 40, lambda _, x: jnp.tanh(x @ x), jnp.eye(256) * 0.5)
            return state, dict(metrics, loss=metrics["loss"] + 0 * x[0, 0])

        return step

    def counting_compile(self, step, state):
        compiled = real_compile(self, step, state)

        def call(state, batch):
            pending.append(sum(not x.is_ready() for x in outs))
            state, metrics = compiled(state, batch)
            outs.append(metrics["loss"])
            return state, metrics

        return call

    monkeypatch.setattr(_loop, "make_train_step", slow_step_of)
    monkeypatch.setattr(JitStrategy, "compile", counting_compile)
    cfg = _cfg(tmp_path, steps=30, max_consecutive_nonfinite=1000)
    train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, log_every=1000)), "vae")
    assert len(pending) == 30
    assert max(pending) <= _loop.MAX_STEPS_IN_FLIGHT, pending


def test_logged_means_are_over_the_finite_steps_of_the_window():
    from types import SimpleNamespace

    from gen_jax.train._loop import _Window

    window = _Window()
    for loss, bad in ((2.0, 0.0), (0.0, 1.0), (4.0, 0.0)):  # a skipped step's loss is masked
        window.add({"loss": jnp.asarray(loss), "nonfinite": jnp.asarray(bad)})
    means = window.means(SimpleNamespace(fetch=lambda tree: tree))
    assert means["loss"] == 3.0  # (2 + 4) / 2, not / 3
    assert means["nonfinite_steps"] == 1.0 and means["steps"] == 3.0
    window.add({"loss": jnp.asarray(0.0), "nonfinite": jnp.asarray(1.0)})
    assert np.isnan(window.means(SimpleNamespace(fetch=lambda tree: tree))["loss"])


def test_save_run_writes_a_run_that_load_run_opens_with_the_new_parameters(tmp_path):
    cfg = _cfg(tmp_path / "source", steps=2)
    train(cfg, "vae")
    source = load_run(tmp_path / "source")
    params = jax.tree.map(lambda x: np.asarray(x) + 0.5, source.state.params)
    save_run(source, tmp_path / "copy", params=params, origin={"how": "shifted"})
    copy = load_run(tmp_path / "copy")
    assert copy.config.train.workdir == str(tmp_path / "copy")
    assert copy.config.model == source.config.model and copy.data_state == source.data_state
    assert int(copy.state.step) == int(source.state.step) == 2
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), b),
                 copy.state.params, params)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
                 copy.state.opt_state, source.state.opt_state)
    origin = json.loads((tmp_path / "copy" / "origin.json").read_text())
    assert origin == {"source": str(tmp_path / "source"), "step": 2, "how": "shifted"}
    with pytest.raises(ValueError, match="copy already holds a run; pass a new folder$"):
        save_run(source, tmp_path / "copy", params=params)
    with pytest.raises(ValueError, match="params are not shaped like the run's parameters$"):
        save_run(source, tmp_path / "other", params={"x": np.zeros(3)})


def test_a_semi_supervised_family_trains_on_mixed_batches_of_the_whole_split(tmp_path):
    cfg = dataclasses.replace(
        _cfg(tmp_path, steps=4),
        model=models.M2Config(hidden=(8,), classifier_hidden=(8,), latent_dim=2,
                              labelled_fraction=0.25),
        data=DataConfig(name="digits", batch_size=40, labels_per_class=5))
    final = train(cfg, "m2")
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    shares = [r["train/labelled_share"] for r in rows if "train/labelled_share" in r]
    assert shares and set(shares) == {0.25}  # 10 of every 40 from the 50 labelled examples
    assert 0 <= final["error"] <= 1 and final["num_examples"] == 297
    private = dataclasses.replace(cfg, privacy=dataclasses.replace(
        cfg.privacy, noise_multiplier=1.0), train=dataclasses.replace(
        cfg.train, workdir=str(tmp_path / "private")))
    with pytest.raises(ValueError, match="differentially private training of a "
                                         "semi-supervised family is not supported"):
        train(private, "m2")


def test_a_semi_supervised_family_initializes_from_the_split_it_trains_on(tmp_path):
    # A data-dependent initialization (the feature-matching GAN's weight normalization) reads
    # the first examples of the whole split, not only of the few labelled ones.
    from gen_jax.train import _run

    cfg = dataclasses.replace(_cfg(tmp_path), data=DataConfig(name="digits",
                                                              labels_per_class=2))
    batch = _run._init_batch(cfg, 60, keep_unlabelled=True)
    assert len(batch["x"]) == 60 and -1 in batch["label"]
    assert len(_run._init_batch(cfg, 60)["x"]) == 20  # the labelled pool alone
