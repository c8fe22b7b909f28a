"""The contract between a model family and the engine: one core protocol and named capabilities.

Every family implements :class:`GenerativeModel` (init, loss, evaluate, anomaly_score, and the
``info``/``num_classes`` it was built for). What else it can do it declares by implementing the
small protocols below; the engine, the evaluation report and the command line test for them with
``isinstance`` and never look a method up by name:

============================  ======================================  ======================
capability                    methods                                 families
============================  ======================================  ======================
:class:`Sampling`             ``sample``                              vae, gan, flows, ppca,
                                                                      diffusion, flow_matching,
                                                                      m2, m1m2, ssl_gan
:class:`SolverSampling`       ``sample_with``, ``sampler_names``,     diffusion, flow_matching
                              ``default_sampler``, ``sampler_nfe``
:class:`TemperatureSampling`  ``sample_at_temperature``               flows, ppca
:class:`ExactLikelihood`      ``log_prob``                            flows, ppca, diffusion
                                                                      and flow_matching with
                                                                      ``likelihood=ode``
:class:`LikelihoodBound`      ``log_importance_weights``,             vae
                              ``bound_in_bits``
:class:`Reconstruction`       ``reconstruct``                         ae, vae, ppca, m2, m1m2
:class:`LatentCode`          ``to_latent``, ``from_latent``          ae, vae, ppca, flows,
                                                                      molvae
:class:`NoiseCode`           ``from_noise``, ``to_noise``            flows, diffusion,
                                                                      flow_matching
:class:`DataDependentInit`    ``init_examples``                       flows, ssl_gan
:class:`DataRequirements`     ``check_data``, ``dequantizes``         flows, ppca, diffusion,
                                                                      flow_matching
:class:`SamplingVariables`    ``sampling_variables``                  gan
:class:`OwnUpdate`            ``make_optimizer``, ``make_update``     gan, ssl_gan,
                                                                      pix2pix, cyclegan
:class:`PrivateUpdate`        ``check_privacy``,                      gan
                              ``make_private_update``
:class:`ScheduledLoss`        ``loss_at``                             molvae, m1m2
:class:`Classification`       ``class_log_probs``                     m2, m1m2, ssl_gan
:class:`SemiSupervised`       ``labelled_per_batch``                  m2, m1m2, ssl_gan
:class:`OwnOptimizer`         ``make_optimizer``                      m1m2, gan, ssl_gan,
                                                                      pix2pix, cyclegan
:class:`Translation`          ``translate``                           pix2pix, cyclegan
:class:`TranslationBack`      ``translate_back``                      cyclegan
============================  ======================================  ======================

A family without :class:`Sampling` (the deterministic autoencoder) has no prior to draw from:
the engine shows reconstructions (:class:`Reconstruction`) where it would show samples, or
translations (:class:`Translation`: a model of two domains, built for data with a
``target``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

if TYPE_CHECKING:  # annotations only: no optax import for a module that only declares
    import optax

    from ..config import DataConfig, OptimConfig
    from ..data import DatasetInfo
    from ..optim import DPSettings
    from ._sampling import SamplerSettings

Variables = dict[str, Any]
"""Flax variables: ``{"params": ..., "batch_stats": ...}`` (``batch_stats`` only when used)."""

Batch = dict[str, jax.Array]
"""A model-space batch: ``"x"`` float32 ``[B, *shape]`` (discrete data scaled to ``[0, 1]``),
and ``"label"`` int32 ``[B]`` when the data set has labels."""

Metrics = dict[str, jax.Array]

Preprocess = Callable[[dict[str, jax.Array], jax.Array], Batch]
"""Maps a stored batch (e.g. uint8 images) and a key to a model-space batch, on device."""


@runtime_checkable
class GenerativeModel(Protocol):
    """A model family bound to its config and its data's :class:`~gen_jax.data.DatasetInfo`.

    Every method is a pure function of its arguments (randomness only through ``key``), so the
    engine can ``jit`` it, shard it and differentiate through ``loss``.

    Attributes:
      info: the data the model was built for.
      num_classes: the number of classes it is conditioned on (0: unconditional). A
        class-conditional model takes ``batch["label"]`` and, where it samples, ``label``.
    """

    info: DatasetInfo
    num_classes: int

    def init(self, key: jax.Array, batch: Batch) -> Variables:
        """Initial variables for a batch of this shape."""
        ...

    def loss(
        self, variables: Variables, batch: Batch, key: jax.Array, *, train: bool
    ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """Scalar loss (mean over the batch), scalar metrics, and updated non-param collections.

        The updated collections (e.g. ``{"batch_stats": ...}``) are ``{}`` for models without any.
        The return shape fits ``jax.value_and_grad(..., has_aux=True)``.
        """
        ...

    def evaluate(self, variables: Variables, batch: Batch, key: jax.Array) -> Metrics:
        """Per-example evaluation metrics, each of shape ``[B]`` (averaged by the caller)."""
        ...

    def anomaly_score(self, variables: Variables, batch: Batch, key: jax.Array) -> jax.Array:
        """Per-example anomaly score ``[B]``: higher means more unusual under the model."""
        ...


@runtime_checkable
class Sampling(Protocol):
    """Draws new examples from the model (a prior, a generator, a base distribution)."""

    def sample(
        self, variables: Variables, key: jax.Array, num: int, label: jax.Array | None = None
    ) -> jax.Array:
        """``[num, *shape]`` samples in data space (``[0, 1]`` for image data)."""
        ...


@runtime_checkable
class SolverSampling(Protocol):
    """Samples by solving a differential equation: the sampler and its number of steps are
    settings of each call (``gen-jax sample --sampler ddim --steps 50``)."""

    def sampler_names(self) -> tuple[str, ...]:
        """The samplers :meth:`sample_with` takes."""
        ...

    def default_sampler(self) -> SamplerSettings:
        """The settings ``sample`` uses (the family config's)."""
        ...

    def sampler_nfe(self, settings: SamplerSettings) -> int | None:
        """Network evaluations per sample path under ``settings`` (None: adaptive, known only
        from the solve)."""
        ...

    def sample_with(
        self, variables: Variables, key: jax.Array, num: int, settings: SamplerSettings,
        label: jax.Array | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        """``([num, *shape] samples, network evaluations per sample path)``."""
        ...


@runtime_checkable
class TemperatureSampling(Protocol):
    """Samples at a reduced temperature: the latent's standard deviation scaled (flows, PPCA),
    or the next-token logits divided by it (the autoregressive families)."""

    def sample_at_temperature(
        self, variables: Variables, key: jax.Array, num: int, temperature: float,
        label: jax.Array | None = None,
    ) -> jax.Array:
        """As ``sample``, with the prior's standard deviation times ``temperature``."""
        ...


@runtime_checkable
class ExactLikelihood(Protocol):
    """An exact log-density of the (dequantized) data."""

    def log_prob(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """``log p(x)`` ``[B]``."""
        ...


@runtime_checkable
class LikelihoodBound(Protocol):
    """A latent-variable model with a bound on ``log p(x)`` and a posterior to importance-sample."""

    def log_importance_weights(
        self, variables: Variables, x: jax.Array, key: jax.Array, num_samples: int,
        label: jax.Array | None = None,
    ) -> jax.Array:
        """``[num_samples, B]`` log importance weights ``log p(x, z) - log q(z | x)``."""
        ...

    def bound_in_bits(self, data: DataConfig) -> bool:
        """Whether the bound is a probability of the discrete data presented as ``data`` says
        (so that it converts to bits per dimension)."""
        ...


@runtime_checkable
class Reconstruction(Protocol):
    """Encodes and decodes: a reconstruction of each example."""

    def reconstruct(self, variables: Variables, x: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """``[B, *shape]`` reconstructions in data space."""
        ...


@runtime_checkable
class LatentCode(Protocol):
    """Maps each example to one point of a latent space and points back to data: what latent
    interpolation and arithmetic need (``gen-jax interpolate``)."""

    def to_latent(self, variables: Variables, x: jax.Array,
                  label: jax.Array | None = None) -> jax.Array:
        """``[B, latent_dim]``: the point of each example (a VAE's posterior mean, an
        autoencoder's code, a flow's base-distribution point, PPCA's ``E[z | x]``)."""
        ...

    def from_latent(self, variables: Variables, z: jax.Array,
                    label: jax.Array | None = None) -> jax.Array:
        """``[N, *shape]`` in data space for points ``z`` ``[N, latent_dim]`` (a decoder's
        mean; a flow's exact inverse)."""
        ...


@runtime_checkable
class NoiseCode(Protocol):
    """Each sample is a deterministic, invertible function of a standard-normal noise array of
    the data's shape (a flow's base point; the start of a deterministic ODE or DDIM sampler),
    and a sample can be mapped back to its noise: what a watermark planted in the noise
    (Tree-Ring, :mod:`gen_jax.apps.watermark`) needs."""

    def from_noise(self, variables: Variables, noise: jax.Array,
                   label: jax.Array | None = None) -> jax.Array:
        """``[N, *shape]`` data made from ``noise`` ``[N, *shape]`` (``N(0, 1)`` entries when
        sampling): the family's deterministic sampler from a given start."""
        ...

    def to_noise(self, variables: Variables, x: jax.Array,
                 label: jax.Array | None = None) -> jax.Array:
        """``[B, *shape]``: the noise :meth:`from_noise` maps to ``x`` (exact for flows; the
        same solver run backwards for ODE samplers, exact as the step count grows)."""
        ...


@runtime_checkable
class DataDependentInit(Protocol):
    """``init`` should see real training examples (ActNorm layers)."""

    def init_examples(self) -> int:
        """How many training examples ``init`` should see (0: none needed, any batch will do)."""
        ...


@runtime_checkable
class DataRequirements(Protocol):
    """The family constrains how its data is presented."""

    def check_data(self, data: DataConfig) -> None:
        """Raises a one-line ``ValueError`` when the data settings do not suit the family."""
        ...

    def dequantizes(self) -> bool:
        """Whether discrete data reaches the model uniformly dequantized by default."""
        ...


@runtime_checkable
class SamplingVariables(Protocol):
    """Samples and evaluates with variables of its own making (a GAN's standing statistics)."""

    def sampling_variables(self, variables: Variables) -> Variables:
        """The variables to sample and evaluate with, from the (EMA) training variables."""
        ...


class Proposal(NamedTuple):
    """A family's proposed update of the train state, committed by the engine's one update path
    (:func:`gen_jax.train.commit_update`) unless ``finite`` is False.

    Attributes:
      params: the new parameters.
      opt_state: the new optimizer state.
      batch_stats: the new non-parameter collections (``None``: unchanged, e.g. a model
        without any).
      finite: boolean scalar: every loss and gradient behind the proposal was finite.
      ema_players: the top-level keys of ``params`` whose EMA is kept (the others' EMA mirrors
        the new parameters); ``None``: the whole tree.
    """

    params: Any
    opt_state: Any
    batch_stats: Any
    finite: jax.Array
    ema_players: tuple[str, ...] | None = None


UpdateFn = Callable[[Any, dict[str, jax.Array]], tuple[Proposal, Metrics]]
"""``update(state, batch) -> (proposal, metrics)``: pure, under the engine's jit."""


@runtime_checkable
class OwnOptimizer(Protocol):
    """The family's own optimizer over its parameters (several players, or parameter groups
    trained in phases); the engine's step still computes and applies the update."""

    def make_optimizer(self, optim: OptimConfig, total_steps: int) -> optax.GradientTransformation:
        """The optimizer over all the parameters, from the run's settings."""
        ...


@runtime_checkable
class OwnUpdate(Protocol):
    """Several players (a GAN): the family's own optimizer and update, one jitted step still.

    The update computes every player's new parameters from ``state`` (a
    :class:`~gen_jax.train.TrainState` whose ``tx`` is this family's optimizer) and returns a
    :class:`Proposal`; the engine's step commits it (non-finite guard, EMA, counters) as it does
    for every family.
    """

    def make_optimizer(self, optim: OptimConfig, total_steps: int) -> optax.GradientTransformation:
        """The optimizer over all players' parameters."""
        ...

    def make_update(self, preprocess: Preprocess, *, axis_name: str | None = None) -> UpdateFn:
        """The pure update; ``axis_name`` is pmap's axis (None under ``jax.jit``)."""
        ...


@runtime_checkable
class PrivateUpdate(Protocol):
    """An :class:`OwnUpdate` family that trains with differential privacy (DP-SGD) on the
    players that see the training data (a GAN's discriminator; the generator, which sees only
    the discriminator, inherits the guarantee as post-processing). Single-loss families need
    no such declaration: the engine privatizes their loss's per-example gradients itself.
    """

    def check_privacy(self) -> None:
        """Raises a one-line ``ValueError`` naming a setting DP-SGD does not cover here."""
        ...

    def make_private_update(self, preprocess: Preprocess, privacy: DPSettings) -> UpdateFn:
        """The pure update (under ``jax.jit``) of a batch that carries ``weight`` (1 for an
        example Poisson sampling drew, 0 for padding), each example's contribution to the
        private players' gradients clipped and the sum noised
        (:func:`gen_jax.optim.private_gradient`)."""
        ...


@runtime_checkable
class ScheduledLoss(Protocol):
    """A training loss that changes with the step (a VAE's KL annealing): the engine's step
    calls :meth:`loss_at` with the state's step instead of ``loss``, whose value is the loss at
    the end of the schedule."""

    def loss_at(
        self, variables: Variables, batch: Batch, key: jax.Array, step: jax.Array, *,
        train: bool,
    ) -> tuple[jax.Array, tuple[Metrics, Variables]]:
        """``loss`` at training step ``step`` (an integer scalar, traced under jit)."""
        ...


@runtime_checkable
class Classification(Protocol):
    """Predicts the class of an example (a semi-supervised model's classifier): what ``gen-jax
    eval`` reports as test error and what a classifier-based filter can use."""

    def class_log_probs(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``[B, num_classes]`` log-probabilities of each class."""
        ...


@runtime_checkable
class SemiSupervised(Protocol):
    """Learns from labelled and unlabelled examples together (Kingma et al. 2014's M2).

    With ``data.labels_per_class`` the engine trains such a family on the whole training split:
    the examples outside the labelled draw carry label ``-1`` in ``batch["label"]``, and every
    global batch holds :meth:`labelled_per_batch` examples of the labelled pool, spread evenly
    through it, and unlabelled ones (:class:`gen_jax.data.Loader`). Without it every example
    is labelled. Under ``train.strategy pmap`` each device's shard holds an equal share of the
    labelled examples when the device count divides their number.
    """

    def labelled_per_batch(self, batch_size: int, labelled: int, total: int) -> int:
        """How many of a global batch of ``batch_size`` come from the labelled pool, for
        ``labelled`` labelled examples among ``total`` (``0 < result < batch_size``)."""
        ...


@runtime_checkable
class Translation(Protocol):
    """Maps examples of the data's domain to a second one (``info.target``, the run's
    ``data.target``): image-to-image translation (pix2pix, CycleGAN). Such a family is built
    only for data with a target; its batches carry the target's examples as ``"y"`` (and their
    labels as ``"y_label"``), the counterparts of ``"x"`` when ``info.paired``."""

    def translate(self, variables: Variables, x: jax.Array) -> jax.Array:
        """``[B, *info.target.shape]`` in the target's data space (``[0, 1]`` for images) for
        examples ``x`` ``[B, *info.shape]`` of the data's domain."""
        ...


@runtime_checkable
class TranslationBack(Protocol):
    """A :class:`Translation` family that also maps the target domain back (CycleGAN's second
    generator)."""

    def translate_back(self, variables: Variables, y: jax.Array) -> jax.Array:
        """``[B, *info.shape]`` for target-domain examples ``y`` ``[B, *info.target.shape]``."""
        ...


def all_finite(tree: Any) -> jax.Array:
    """True when every leaf of ``tree`` is finite (a boolean scalar)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


CAPABILITIES: tuple[type, ...] = (
    Sampling, SolverSampling, TemperatureSampling, ExactLikelihood, LikelihoodBound, Reconstruction,
    LatentCode, NoiseCode, DataDependentInit, DataRequirements, SamplingVariables, OwnUpdate,
    PrivateUpdate, ScheduledLoss, Classification, SemiSupervised, OwnOptimizer, Translation,
    TranslationBack,
)
"""Every capability protocol, in the order the docs list them."""


def capabilities(model: Any) -> tuple[str, ...]:
    """The names of the capabilities ``model`` implements (e.g. ``("Sampling", ...)``)."""
    return tuple(cap.__name__ for cap in CAPABILITIES if isinstance(model, cap))
