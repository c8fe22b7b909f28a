"""Generative adversarial networks: two players in one train state and one jitted step.

:class:`GAN` binds a :class:`GANConfig` to a data set as a
:class:`~gen_jax.models.GenerativeModel` that brings its own optimizer
(:meth:`GAN.make_optimizer`: one optax state per player, each with its own learning rate) and
its own update (:meth:`GAN.make_update`: ``n_critic`` discriminator updates, then
``g_steps`` generator updates; or both players' updates at once). Parameters are
``{"generator": ..., "discriminator": ...}``; non-trainable state (generator batch norm,
discriminator spectral-norm vectors) is ``batch_stats`` under the same two keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import chex
import jax
import jax.numpy as jnp

from ... import optim
from ...data import DataError, DatasetInfo, toy_modes
from ...nn import output_dtype, params_in
from .._base import Batch, Metrics, UpdateFn, Variables
from ._losses import (
    LOSSES,
    LossName,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
)
from ._nets import Discriminator, Generator, pack
from ._update import TwoPlayerTransform, make_gan_update, two_player

Dtype = Any
STANDING_BATCH = 256
"""Noise vectors per batch of :meth:`GAN.with_standing_stats`."""


@dataclasses.dataclass(frozen=True)
class GANConfig:
    """A GAN: networks, objective, regularizers and the two players' schedule.

    The network defaults are PacGAN's toy nets (Lin et al. 2018) with DCGAN's latent size; the
    ``dcgan`` arch defaults are BENCHMARKS.md's W5 nets. Learning rate, betas, schedule and EMA
    of the generator come from ``--optim.*``; the discriminator may override them here (two
    time-scale update rule, Heusel et al. 2017).
    """

    arch: Literal["mlp", "dcgan"] = "mlp"
    """mlp: dense generator and discriminator (any data); dcgan: convolutional (images)."""
    latent_dim: int = 100
    """Dimension of the standard normal noise z."""
    g_hidden: tuple[int, ...] = (400, 400, 400, 400)
    """mlp arch: generator hidden widths (each dense -> batch norm -> ReLU)."""
    d_hidden: tuple[int, ...] = (200, 200, 200)
    """mlp arch: discriminator hidden widths."""
    d_maxout_pieces: int = 5
    """mlp arch: maxout pieces per discriminator unit (1: LeakyReLU(0.2) units instead)."""
    g_channels: tuple[int, ...] = (256, 128, 64)
    """dcgan arch: generator channels; the first is the dense projection's grid (H / 2^(n-1)),
    the second a stride-1 convolution, the rest stride-2 upsamplings (then one to the data)."""
    d_channels: tuple[int, ...] = (64, 128)
    """dcgan arch: discriminator stride-2 convolution channels."""
    kernel_size: int = 5
    """dcgan arch: square kernel size of every convolution."""
    batch_norm: bool = True
    """Batch norm in the generator's hidden layers (conditional batch norm when conditional)."""
    bn_momentum: float = 0.9
    """Decay of the generator's batch-norm running statistics (flax's ``momentum``; PacGAN's
    toy code uses 0.95)."""
    pack_batch_norm: bool = False
    """With ``pac > 1``: in training, the generator's batch norm normalizes each pack
    position's examples with their own statistics, as PacGAN's code does by running the
    generator once per position (:class:`~gen_jax.nn.GroupedBatchNorm`); the running
    statistics are the whole batch's. False: one set of statistics for the whole batch."""
    init_std: float | None = 0.02
    """Kernels drawn from N(0, init_std^2) as in DCGAN and PacGAN (None: LeCun normal)."""
    upsample: Literal["subpixel", "transpose"] = "subpixel"
    """dcgan arch: compute the stride-2 transposed convolutions as sub-pixel convolutions (the
    same function of the same kernel; fast on CPU) or with lax.conv_transpose."""
    loss: LossName = "non_saturating"
    """non_saturating (Goodfellow et al.), hinge, or wasserstein (needs gp_weight or
    spectral_norm)."""
    gp_weight: float = 0.0
    """Weight of the WGAN-GP gradient penalty E[(||grad D(x_hat)|| - 1)^2] (10 in the paper)."""
    r1_weight: float = 0.0
    """R1 gamma: adds gamma / 2 * E[||grad D(x_real)||^2] to the discriminator's loss."""
    spectral_norm: bool = False
    """Spectrally normalize every discriminator kernel and the projection's class embedding
    (one power iteration per update)."""
    n_critic: int = 1
    """Discriminator updates per generator update; the step's batch is split into n_critic
    parts, one fresh real batch per discriminator update (as in WGAN-GP)."""
    g_steps: int = 1
    """Generator updates per step, after the discriminator's (alternating update), each
    against fresh noise. DCGAN-tensorflow, on which PacGAN's stacked-MNIST code is built,
    makes 2 "to make sure that d_loss does not go to zero"."""
    update: Literal["alternating", "simultaneous"] = "alternating"
    """alternating: the discriminator's updates first, then the generator's against the
    updated discriminator with fresh fakes (DCGAN, WGAN-GP). simultaneous: both players'
    gradients from one forward pass at the same parameters, applied together (the update of
    ALI and PacGAN's toy experiments; needs n_critic=1)."""
    pac: int = 1
    """PacGAN packing: the discriminator judges pac samples at once (channels or features
    concatenated). Each discriminator part of the batch must be a multiple of pac."""
    d_learning_rate: float | None = None
    """Discriminator learning rate (None: optim.learning_rate)."""
    d_b1: float | None = None
    """Discriminator first-moment decay (None: optim.b1)."""
    d_b2: float | None = None
    """Discriminator second-moment decay (None: optim.b2)."""
    conditional: bool = False
    """Class-conditional: conditional batch norm and a one-hot label in the generator, a
    projection discriminator (data with labels, pac = 1)."""
    standing_stats: int = 0
    """Sampling and evaluation with batch norm in the generator: normalize with statistics
    recomputed for the parameters in use (the EMA's, when on) over this many batches of
    ``STANDING_BATCH`` noise vectors (rounded down to a multiple of ``pac`` with
    ``pack_batch_norm``), BigGAN's "standing statistics" (:meth:`GAN.sampling_variables`); 0:
    the running statistics of training."""


def _validate(cfg: GANConfig, info: DatasetInfo) -> None:
    """Raises a one-line ``ValueError`` naming what is wrong with ``cfg`` on ``info``'s data."""
    if cfg.arch not in ("mlp", "dcgan"):
        raise ValueError(f"gan: unknown arch {cfg.arch!r}; use 'mlp' or 'dcgan'")
    if cfg.arch == "dcgan":
        if len(info.shape) != 3:
            raise ValueError(f"gan: arch='dcgan' needs image data [H, W, C], but {info.name!r} "
                             f"has shape {tuple(info.shape)}; use arch='mlp'")
        if len(cfg.g_channels) < 2:
            raise ValueError("gan: arch='dcgan' needs at least two g_channels (projection, "
                             f"stride-1 convolution), got {cfg.g_channels}")
        f = 2 ** (len(cfg.g_channels) - 1)
        if info.shape[0] % f or info.shape[1] % f:
            raise ValueError(f"gan: {len(cfg.g_channels) - 1} upsamplings need H and W "
                             f"divisible by {f}, but {info.name!r} is {info.shape[0]}x"
                             f"{info.shape[1]}; use fewer g_channels")
        if not cfg.d_channels:
            raise ValueError("gan: arch='dcgan' needs at least one d_channels entry")
        if cfg.upsample not in ("subpixel", "transpose"):
            raise ValueError(f"gan: unknown upsample {cfg.upsample!r}; use subpixel or "
                             "transpose")
    if cfg.update not in ("alternating", "simultaneous"):
        raise ValueError(f"gan: unknown update {cfg.update!r}; use 'alternating' or "
                         "'simultaneous'")
    if cfg.update == "simultaneous" and cfg.n_critic != 1:
        raise ValueError(f"gan: update='simultaneous' makes one discriminator update per step, "
                         f"got n_critic={cfg.n_critic}; set n_critic=1 or update='alternating'")
    if cfg.update == "simultaneous" and cfg.g_steps != 1:
        raise ValueError(f"gan: update='simultaneous' makes one generator update per step, "
                         f"got g_steps={cfg.g_steps}; set g_steps=1 or update='alternating'")
    if cfg.loss not in LOSSES:
        raise ValueError(f"gan: unknown loss {cfg.loss!r}; use one of {', '.join(LOSSES)}")
    if cfg.loss == "wasserstein" and not (cfg.gp_weight > 0 or cfg.spectral_norm):
        raise ValueError("gan: loss='wasserstein' needs a Lipschitz constraint; set gp_weight "
                         "(e.g. 10) or spectral_norm=True")
    for name in ("latent_dim", "n_critic", "g_steps", "pac", "d_maxout_pieces", "kernel_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"gan: {name} must be >= 1, got {getattr(cfg, name)}")
    for name in ("gp_weight", "r1_weight", "standing_stats"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"gan: {name} must be >= 0, got {getattr(cfg, name)}")
    if cfg.d_learning_rate is not None and not cfg.d_learning_rate > 0:
        raise ValueError(f"gan: d_learning_rate must be positive, got {cfg.d_learning_rate}")
    if cfg.init_std is not None and not cfg.init_std > 0:
        raise ValueError(f"gan: init_std must be positive (or None), got {cfg.init_std}")
    if not 0.0 <= cfg.bn_momentum < 1.0:
        raise ValueError(f"gan: bn_momentum must be in [0, 1), got {cfg.bn_momentum}")
    if cfg.pack_batch_norm and not (cfg.batch_norm and cfg.pac > 1):
        raise ValueError("gan: pack_batch_norm gives each pack position its own batch-norm "
                         f"statistics in the generator, but batch_norm={cfg.batch_norm} and "
                         f"pac={cfg.pac}; use batch_norm=True with pac > 1, or "
                         "pack_batch_norm=False")
    if cfg.pack_batch_norm and cfg.standing_stats and cfg.pac > STANDING_BATCH:
        raise ValueError(f"gan: standing statistics draw batches of {STANDING_BATCH}, fewer "
                         f"than one per pack position with pac={cfg.pac}; set standing_stats=0")
    if cfg.standing_stats and not cfg.batch_norm:
        raise ValueError("gan: standing_stats recomputes the generator's batch-norm statistics, "
                         "but batch_norm=False; set standing_stats=0")
    if cfg.conditional and info.num_classes == 0:
        raise ValueError(f"gan: conditional=True needs labels, but {info.name!r} has none; set "
                         "conditional=False")
    if cfg.conditional and cfg.pac > 1:
        raise ValueError("gan: a packed discriminator sees several labels at once; use "
                         "conditional=True with pac=1, or conditional=False")


def _player(variables: Variables, player: str) -> Variables:
    """One player's Flax variables from the two-player tree."""
    out = {"params": variables["params"][player]}
    stats = variables.get("batch_stats") or {}
    if player in stats:
        out["batch_stats"] = stats[player]
    return out


def _map_layers(fn: Callable, tree: Any) -> Any:
    """``fn`` applied to every ``{"mean", "var"}`` batch-norm layer of a ``batch_stats`` tree."""
    if set(tree) == {"mean", "var"}:
        return fn(tree)
    return {k: _map_layers(fn, v) for k, v in tree.items()}


class GAN:
    """The GAN family bound to a config and a data set (a ``GenerativeModel``).

    Attributes:
      config: the :class:`GANConfig`.
      info: the data's :class:`~gen_jax.data.DatasetInfo`.
      generator: the :class:`~gen_jax.models.gan.Generator` network.
      discriminator: the :class:`~gen_jax.models.gan.Discriminator` network.
      num_classes: the classes it is conditioned on (0: unconditional).
    """

    def __init__(self, config: GANConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32):
        _validate(config, info)
        self.config = config
        self.info = info
        self.shape = tuple(info.shape)
        self.image = info.num_levels is not None  # data in [0, 1] -> model space [-1, 1]
        num_classes = info.num_classes if config.conditional else 0
        self.num_classes = num_classes
        self.generator = Generator(config, self.shape, num_classes, self.image, dtype)
        self.discriminator = Discriminator(config, num_classes, dtype)
        self._modes = None
        if self.shape == (2,):
            try:
                self._modes = toy_modes(info.name)
            except DataError:  # not a Gaussian-mixture toy set
                self._modes = None

    # ------------------------------------------------------------------ data <-> model space

    def _to_model(self, x: jax.Array) -> jax.Array:
        return 2.0 * x - 1.0 if self.image else x

    def _to_data(self, x: jax.Array) -> jax.Array:
        return (x + 1.0) / 2.0 if self.image else x

    def inputs(self, batch: Batch) -> tuple[jax.Array, jax.Array | None]:
        """Model-space ``x`` ``[B, *shape]`` (images scaled to ``[-1, 1]``) and the labels
        (``None`` for an unconditional GAN); checks shapes and that a conditional GAN has
        labels."""
        x = batch["x"]
        chex.assert_shape(x, (None, *self.shape))
        chex.assert_type(x, float)
        if not self.num_classes:
            return self._to_model(x), None
        label = batch.get("label")
        if label is None:
            raise ValueError("this GAN is class-conditional: pass labels (batch['label'], "
                             "int32 [B]), or build it with conditional=False")
        chex.assert_shape(label, (x.shape[0],))
        return self._to_model(x), label

    # ------------------------------------------------------------------ the two networks

    def generate(
        self, g_vars: Variables, z: jax.Array, label: jax.Array | None, *, train: bool,
        axis_name: str | None = None,
    ) -> tuple[jax.Array, Any]:
        """Generator outputs in model space ``[N, *shape]`` and its updated ``batch_stats``
        (``None`` when ``train`` is False or it has none). ``axis_name``: in training, the
        mapped axis (pmap's) over which batch norm averages its statistics, so that the
        shards are normalized together as one global batch."""
        chex.assert_shape(z, (None, self.config.latent_dim))
        if train and "batch_stats" in g_vars:
            gen = self.generator if axis_name is None else self.generator.clone(
                axis_name=axis_name)
            out, upd = gen.apply(g_vars, z, label, train=True, mutable=["batch_stats"])
            return out, upd["batch_stats"]
        return self.generator.apply(g_vars, z, label, train=train), None

    def discriminate(
        self, d_vars: Variables, x: jax.Array, label: jax.Array | None, *,
        update_stats: bool = False,
    ) -> tuple[jax.Array, Any]:
        """Logits ``[B / pac]`` for model-space ``x`` ``[B, *shape]`` (packed here), and the
        updated spectral-norm vectors (``None`` unless ``update_stats``)."""
        xp = pack(x, self.config.pac)
        if update_stats and "batch_stats" in d_vars:
            out, upd = self.discriminator.apply(d_vars, xp, label, update_stats=True,
                                                mutable=["batch_stats"])
            return out, upd["batch_stats"]
        return self.discriminator.apply(d_vars, xp, label, update_stats=False), None

    def noise(self, key: jax.Array, num: int) -> jax.Array:
        """``num`` generator inputs ``[num, latent_dim]``, standard normal."""
        dtype = output_dtype(self.generator.dtype)
        return jax.random.normal(key, (num, self.config.latent_dim), dtype)

    # ------------------------------------------------------------------ objectives

    def discriminator_objective(
        self, d_vars: Variables, x_real: jax.Array, x_fake: jax.Array,
        label: jax.Array | None, key: jax.Array, fake_label: jax.Array | None = None,
    ) -> tuple[jax.Array, tuple[Metrics, Any]]:
        """The discriminator's loss with its regularizers, on model-space real and fake batches
        of the same size; returns ``(loss, (metrics, updated spectral-norm stats or None))``.
        ``fake_label``: the fakes' labels when they are not the real ones (the gradient
        penalty's interpolates take the real labels).

        Real and fake packs go through the discriminator in one call, so spectral norm's power
        iteration advances once per update; the penalties reuse the same normalized weights.
        """
        cfg = self.config
        chex.assert_equal_shape([x_real, x_fake])
        n = x_real.shape[0] // cfg.pac
        both = jnp.concatenate([x_real, x_fake], axis=0)
        both_label = None if label is None else jnp.concatenate(
            [label, label if fake_label is None else fake_label])
        logits, stats = self.discriminate(d_vars, both, both_label, update_stats=True)
        d_real, d_fake = logits[:n], logits[n:]
        loss = discriminator_loss(cfg.loss, d_real, d_fake)
        metrics = {"d_loss": loss, "d_real": jnp.mean(d_real), "d_fake": jnp.mean(d_fake)}

        def critic(xp):  # packed input -> logits, stats frozen (rows independent)
            return self.discriminator.apply(d_vars, xp, label, update_stats=False)

        if cfg.gp_weight:
            gp = gradient_penalty(critic, pack(x_real, cfg.pac), pack(x_fake, cfg.pac), key)
            loss = loss + cfg.gp_weight * gp
            metrics["gp"] = gp
        if cfg.r1_weight:
            r1 = r1_penalty(critic, pack(x_real, cfg.pac))
            loss = loss + 0.5 * cfg.r1_weight * r1
            metrics["r1"] = r1
        return loss, (metrics, stats)

    def loss(
        self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool = True
    ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """The discriminator's regularized loss against fresh fakes (with ``g_loss`` among the
        metrics), for inspection: training uses :meth:`make_update`, not this."""
        x, label = self.inputs(batch)
        key_z, key_pen = jax.random.split(key)
        fake, _ = self.generate(_player(variables, "generator"), self.noise(key_z, x.shape[0]),
                                label, train=train)
        d_vars = _player(variables, "discriminator")
        loss, (metrics, _) = self.discriminator_objective(d_vars, x, fake, label, key_pen)
        d_fake, _ = self.discriminate(d_vars, fake, label)
        return loss, ({**metrics, "g_loss": generator_loss(self.config.loss, d_fake)}, {})

    # ------------------------------------------------------------------ GenerativeModel

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables ``{"params": {generator, discriminator}, "batch_stats": {...}}``."""
        x, label = self.inputs(batch)
        key_g, key_d = jax.random.split(key)
        pac = self.config.pac
        dtype = output_dtype(self.generator.dtype)
        z = jnp.zeros((x.shape[0], self.config.latent_dim), dtype)
        g_vars = self.generator.init({"params": key_g}, z, label, train=False)
        x_one = jnp.zeros((pac, *self.shape), dtype)  # one pack
        d_label = None if label is None else label[:1]
        d_vars = self.discriminator.init({"params": key_d}, pack(x_one, pac), d_label)
        out = {"params": {"generator": g_vars["params"], "discriminator": d_vars["params"]}}
        stats = {p: v["batch_stats"] for p, v in (("generator", g_vars),
                                                  ("discriminator", d_vars))
                 if "batch_stats" in v}
        if stats:
            out["batch_stats"] = stats
        return params_in(out, self.generator.dtype)

    def with_standing_stats(
        self, variables: Variables, key: jax.Array, num_batches: int,
        batch_size: int = STANDING_BATCH,
    ) -> Variables:
        """``variables`` with the generator's batch-norm statistics replaced by those of its
        own parameters on ``num_batches`` batches of ``batch_size`` noise vectors (labels
        continuing through the classes from batch to batch, so every class is seen equally
        often up to one batch's remainder): BigGAN's standing statistics, here the exact mean
        and (biased) variance of every batch-norm input over all the batches pooled, each batch
        normalized by its own statistics as in training (with ``pack_batch_norm``, each pack
        position's; ``batch_size`` must then be a multiple of ``pac``). Unchanged without batch
        norm."""
        g_vars = _player(variables, "generator")
        if "batch_stats" not in g_vars or num_batches < 1:
            return variables
        zeros = jax.tree.map(jnp.zeros_like, g_vars["batch_stats"])

        def batch_moments(inputs):  # from zero running stats, one update is (1 - m) * stat
            k, b = inputs
            label = ((jnp.arange(batch_size, dtype=jnp.int32) + b * batch_size)
                     % self.num_classes if self.num_classes else None)
            _, new = self.generate({**g_vars, "batch_stats": zeros},
                                   self.noise(k, batch_size), label, train=True)
            return jax.tree.map(lambda s: s / (1.0 - self.config.bn_momentum), new)

        moments = jax.lax.map(batch_moments, (jax.random.split(key, num_batches),
                                              jnp.arange(num_batches, dtype=jnp.int32)))

        def pool(layer):  # E[x] and E[x^2] - E[x]^2 over all batches
            mean = layer["mean"].mean(0)
            second = (layer["var"] + layer["mean"] ** 2).mean(0)
            return {"mean": mean, "var": jnp.maximum(second - mean**2, 0.0)}

        stats = _map_layers(pool, moments)
        return {**variables,
                "batch_stats": {**variables["batch_stats"], "generator": stats}}

    def sampling_variables(self, variables: Variables) -> Variables:
        """The variables to sample and evaluate with: with ``standing_stats``, the generator's
        batch-norm statistics recomputed for these parameters (:meth:`with_standing_stats`
        with the fixed key ``PRNGKey(0)``, so every call gives the same statistics); else
        ``variables``. The toolkit's sampling (sample grids, ``gen-jax sample`` and ``eval``)
        calls it once per set of variables; :meth:`sample` uses what it is given."""
        if not self.config.standing_stats:
            return variables
        return self.standing_variables(variables, self.config.standing_stats)

    def standing_variables(self, variables: Variables, num_batches: int,
                           batch_size: int = STANDING_BATCH) -> Variables:
        """:meth:`with_standing_stats` with the fixed key ``PRNGKey(0)`` (the same statistics
        on every call) over ``num_batches`` batches of ``batch_size`` noise vectors, rounded
        down to a multiple of ``pac`` under ``pack_batch_norm``: what :meth:`sampling_variables`
        uses, for any number of batches."""
        groups = self.config.pac if self.config.pack_batch_norm else 1
        return self.with_standing_stats(variables, jax.random.PRNGKey(0), num_batches,
                                        batch_size - batch_size % groups)

    def sample(
        self, variables: Variables, key: jax.Array, num: int, label: jax.Array | None = None
    ) -> jax.Array:
        """``[num, *shape]`` generator samples in data space (batch norm in inference mode,
        with the statistics in ``variables``: pass :meth:`sampling_variables` for the
        standing statistics).

        A conditional model without ``label`` cycles through the classes (``arange(num) % C``).
        """
        if self.num_classes and label is None:
            label = jnp.arange(num, dtype=jnp.int32) % self.num_classes
        if not self.num_classes:
            label = None
        out, _ = self.generate(_player(variables, "generator"), self.noise(key, num), label,
                               train=False)
        return self._to_data(out)

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example ``d_real`` and ``d_fake`` (the logit of the example's pack, on real data
        and on as many fresh samples, with the statistics in ``variables`` as in :meth:`sample`;
        the toolkit's evaluation passes :meth:`sampling_variables`, computed once per
        evaluation) and, on the mode-collapse toy sets (ring8, ring8_r1, grid25),
        ``high_quality``: whether the sample is within 3 standard deviations of its nearest
        mode."""
        x, label = self.inputs(batch)
        pac = self.config.pac
        fake, _ = self.generate(_player(variables, "generator"), self.noise(key, x.shape[0]),
                                label, train=False)
        d_vars = _player(variables, "discriminator")
        d_real, _ = self.discriminate(d_vars, x, label)
        d_fake, _ = self.discriminate(d_vars, fake, label)
        out = {"d_real": jnp.repeat(d_real, pac), "d_fake": jnp.repeat(d_fake, pac)}
        if self._modes is not None:
            centers, std = self._modes
            dist = jnp.sqrt(jnp.min(jnp.sum((fake[:, None] - centers[None]) ** 2, -1), -1))
            out["high_quality"] = (dist < 3.0 * std).astype(jnp.float32)
        return out

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example ``-D(x)`` ``[B]``: the discriminator's logit, negated (it scores
        real-looking data high), for a pack of ``pac`` copies of the example. A score of the
        discriminator as trained: it tells data from this generator's samples, so it is only as
        good an outlier detector as that contrast (``key`` is unused)."""
        del key
        x, label = self.inputs(batch)
        copies = jnp.repeat(x, self.config.pac, axis=0)  # packs of one example each
        logits, _ = self.discriminate(_player(variables, "discriminator"), copies, label)
        return -logits

    # ------------------------------------------------------------------ engine hooks

    def make_optimizer(self, optim_config: Any, total_steps: int) -> TwoPlayerTransform:
        """The generator's optimizer from ``optim_config``; the discriminator's the same with
        ``d_learning_rate``/``d_b1``/``d_b2`` when set. Each player's schedule is counted in
        its own updates (``g_steps`` and ``n_critic`` per step), so warm-up and decay end at
        the same step for both."""
        cfg = self.config
        def per_update(settings, updates_per_step):  # the schedule counted in updates
            return dataclasses.replace(
                settings, warmup_steps=settings.warmup_steps * updates_per_step,
                decay_steps=settings.decay_steps and settings.decay_steps * updates_per_step)

        d_optim = dataclasses.replace(
            optim_config,
            learning_rate=cfg.d_learning_rate or optim_config.learning_rate,
            b1=optim_config.b1 if cfg.d_b1 is None else cfg.d_b1,
            b2=optim_config.b2 if cfg.d_b2 is None else cfg.d_b2,
        )
        return two_player(
            optim.make_optimizer(per_update(optim_config, cfg.g_steps),
                                 total_steps * cfg.g_steps),
            optim.make_optimizer(per_update(d_optim, cfg.n_critic), total_steps * cfg.n_critic))

    def make_update(self, preprocess: Callable, *, axis_name: str | None = None) -> UpdateFn:
        """The GAN's update ``(state, batch) -> (proposal, metrics)``, pure, for jit/pmap; the
        engine's step (:func:`gen_jax.train.make_train_step`) commits the proposal.

        One step (``update="alternating"``): the batch is split into ``n_critic`` parts (rows
        ``i::n_critic``); for each, one discriminator update against as many fresh fakes
        (unrolled in Python: a ``lax.scan`` over the updates made the W5 step 20x slower on
        XLA:CPU); then ``g_steps`` generator updates (default 1) against the updated
        discriminator, each with a fresh fake batch of the part's size. With
        ``update="simultaneous"``: one fake batch of the batch's size, and both players'
        gradients at the step's parameters from that one forward pass (the discriminator's loss
        with the fakes held fixed, the generator's with the discriminator held fixed), applied
        together.
        A step whose loss or gradients (of any update) are non-finite is skipped as a whole (the
        proposal is not finite): parameters, optimizer states, EMA and ``batch_stats`` kept, the
        skip counted, as for every family. With EMA on (``optim.ema_decay``), ``ema_params``
        averages the generator and mirrors the current discriminator, so sampling from the EMA
        variables uses the averaged generator. Its batch-norm running statistics are the live
        generator's (as StyleGAN2-ADA copies G's buffers into G_ema); with a slow EMA and batch norm
        in G the two can differ, and ``standing_stats`` has sampling recompute them for the averaged
        weights (BigGAN's "standing statistics", :meth:`sampling_variables`).

        Args:
          preprocess: stored batch + key -> model batch (``{"x", "label"?}``).
          axis_name: the pmap axis to average gradients, metrics and statistics over (None
            under ``jax.jit``, where the batch mean is already global).
        """
        return make_gan_update(self, preprocess, axis_name=axis_name)

    def check_privacy(self) -> None:
        """Raises a one-line ``ValueError`` for a setting the private discriminator does not
        cover: DP-SGD's unit is one real example (and the fake drawn beside it) in one
        Poisson-sampled discriminator update per step."""
        cfg = self.config
        if cfg.update != "alternating":
            raise ValueError("gan: differentially private training makes alternating updates "
                             "(the discriminator's private one, then the generator's); set "
                             "--model.update alternating")
        if cfg.n_critic != 1:
            raise ValueError(f"gan: differentially private training makes one discriminator "
                             f"update per step (one Poisson-sampled batch, which the accountant "
                             f"counts), got n_critic={cfg.n_critic}; set --model.n-critic 1")
        if cfg.pac != 1:
            raise ValueError(f"gan: PacGAN packing (pac={cfg.pac}) judges several examples at "
                             "once, which per-example clipping cannot separate; set "
                             "--model.pac 1 for differential privacy")

    def make_private_update(self, preprocess: Callable,
                            privacy: optim.DPSettings) -> UpdateFn:
        """:meth:`make_update` with the discriminator trained by DP-SGD (DP-GAN, Xie et al.
        2018): the batch carries ``weight`` (Poisson sampling's padding at 0); every real
        example with the fake drawn beside it is one unit, whose discriminator loss gradient
        (penalties included) is clipped to ``privacy.clip_norm``, and Gaussian noise is added
        to their sum. The generator learns only through the discriminator, so it is private
        too (post-processing). A conditional GAN's fakes, for both players, are drawn for
        uniform labels rather than the private batch's (through the generator's batch norm, the
        batch's labels would reach every fake, and every pair). Needs
        :meth:`check_privacy`'s settings; ``jax.jit`` only."""
        return make_gan_update(self, preprocess, privacy=privacy)


def build(config: GANConfig, info: DatasetInfo, *, dtype: Dtype = jnp.float32) -> GAN:
    """A :class:`GAN` for ``info``'s data (validates the config; one-line ``ValueError``)."""
    return GAN(config, info, dtype=dtype)

