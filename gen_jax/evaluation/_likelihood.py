"""The likelihood section of an evaluation: one interface over every model family.

* flows: the exact negative log-likelihood (nats per example) and bits per dimension;
* VAEs: the ELBO and, with K importance samples, the importance-sampled NLL (Burda et al. 2016),
  each also in bits per dimension when the likelihood is a probability of the discrete data;
* GANs and deterministic autoencoders: no likelihood of the data (the section says so).

A model with a classifier of its own (a semi-supervised family) also gets a classification
section: its test error.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from .. import metrics
from ..models import (
    Classification,
    ExactLikelihood,
    LikelihoodBound,
    Sampling,
    SamplingVariables,
)

if TYPE_CHECKING:
    from ..train import Run


def model_variables(run) -> Any:
    """The run's EMA variables (its parameters when it keeps no EMA), on the host for pmap,
    through the model's ``sampling_variables`` when it has one (a GAN's standing statistics)."""
    variables = run.state.variables(ema=True)
    if run.strategy.name == "pmap":
        variables = run.strategy.fetch(variables)
    if not isinstance(run.model, SamplingVariables):
        return variables
    return jax.jit(run.model.sampling_variables)(variables)


def likelihood_kind(model: Any) -> str:
    """``"exact"`` (:class:`~gen_jax.models.ExactLikelihood`), ``"bound"``
    (:class:`~gen_jax.models.LikelihoodBound`) or ``"none"``."""
    if isinstance(model, ExactLikelihood):
        return "exact"
    if isinstance(model, LikelihoodBound):
        return "bound"
    return "none"


def bits_per_dim_meaningful(run) -> bool:
    """Whether the run's likelihood bound converts to bits/dim of the discrete data (the
    model's :meth:`~gen_jax.models.LikelihoodBound.bound_in_bits` for the run's data settings;
    False for a model without a bound)."""
    return isinstance(run.model, LikelihoodBound) and run.model.bound_in_bits(run.config.data)


def importance_nll(run, cfg, num_samples: int, *, num_examples: int | None = None,
                   key: jax.Array | None = None) -> dict[str, float]:
    """Importance-sampled NLL (nats per example) of the eval split and its standard error.

    ``key`` (default ``PRNGKey(0)``) splits as in :meth:`gen_jax.train.Evaluator.evaluate`:
    with the same key, both score the same data draws (e.g. one binarization of the test set).

    Returns:
      ``{"nll_isK": mean, "nll_isK_stderr": stderr}``.

    Raises:
      ValueError: the model has no posterior to importance-sample.
    """
    from ..train import load_split, preprocess_examples  # noqa: PLC0415

    if likelihood_kind(run.model) != "bound":
        has = "an exact likelihood" if isinstance(run.model, ExactLikelihood) else "none"
        raise ValueError(f"--importance-samples estimates log p(x) of latent-variable models "
                         f"(vae); {run.model_name!r} has {has}; drop the flag")
    ds = load_split(cfg, cfg.data.eval_split)
    n = len(ds) if num_examples is None else min(num_examples, len(ds))
    data_key, noise_key = jax.random.split(jax.random.PRNGKey(0) if key is None else key)
    batch = {"x": ds.x[:n]} | ({"label": ds.label[:n]} if ds.label is not None else {})
    model_batch = jax.jit(lambda b, k: preprocess_examples(run.preprocess, b, jnp.arange(n), k))(
        batch, data_key)
    nll, stderr = metrics.evaluate_log_likelihood(
        run.model, model_variables(run), model_batch["x"], noise_key,
        num_samples=num_samples, label=model_batch.get("label"))
    return {f"nll_is{num_samples}": float(nll), f"nll_is{num_samples}_stderr": float(stderr)}


def likelihood_section(run: Run, means: dict[str, float],
                       importance: dict[str, float] | None = None) -> dict[str, Any]:
    """The unified likelihood section from the model's averaged metrics.

    Args:
      run: the :class:`~gen_jax.train.Run`.
      means: the model's per-example metrics averaged over the split
        (:meth:`gen_jax.train.Evaluator.evaluate`).
      importance: the output of :func:`importance_nll`, if computed.

    Returns:
      ``{"kind": "exact"|"bound"|"none", "note": str, ...}``: ``nll`` and ``bpd`` (exact);
      ``elbo`` (nats, higher is better), ``elbo_bpd`` (of -ELBO), ``importance_samples``,
      ``nll_is``, ``nll_is_stderr``, ``nll_is_bpd`` (bound); nothing else for ``"none"``.
    """
    kind = likelihood_kind(run.model)
    dim = run.info.dim
    if not isinstance(run.model, Sampling):
        return {"kind": "none", "note": f"{run.model_name} is a deterministic autoencoder: it "
                "defines no likelihood of the data (its nll is the reconstruction's)."}
    if kind == "exact":
        if run.info.is_discrete:
            note = ("negative log-likelihood of the discrete data through uniform dequantization "
                    "(nats per example; an upper bound on the discrete NLL), and bits per "
                    "dimension.")
            return {"kind": "exact", "nll": means["nll"], "bpd": means["bpd"], "note": note}
        return {"kind": "exact", "nll": means["nll"],
                "note": "exact negative log-density of the continuous data in nats per example "
                        "(no bits/dim: that is a measure of discrete data)."}
    if kind == "none" and "elbo" in means:  # a bound of its own, without importance weights
        return {"kind": "bound", "elbo": means["elbo"],
                "note": f"ELBO (a lower bound on log p(x), nats per example); {run.model_name} "
                        "has no importance-sampled NLL or bits/dim here."}
    if kind == "none":
        return {"kind": "none", "note": f"{run.model_name} defines no likelihood (an implicit "
                "model): judge it by the sample-quality metrics."}
    out: dict[str, Any] = {"kind": "bound", "elbo": means["elbo"]}
    if "iwae_bound" in means:
        out["iwae_bound"] = means["iwae_bound"]
    bpd = bits_per_dim_meaningful(run)
    if bpd:
        out["elbo_bpd"] = float(metrics.bits_per_dim(-means["elbo"], dim))
    if importance:
        key = next(k for k in importance if not k.endswith("_stderr"))
        out |= {"importance_samples": int(key.removeprefix("nll_is")),
                "nll_is": importance[key], "nll_is_stderr": importance[key + "_stderr"]}
        if bpd:
            out["nll_is_bpd"] = float(metrics.bits_per_dim(importance[key], dim))
    out["note"] = ("ELBO (a lower bound on log p(x), nats per example)"
                   + (" and the importance-sampled NLL (an upper bound in expectation, tight as "
                      "K grows)" if importance else "; pass --importance-samples K for the "
                      "importance-sampled NLL")
                   + ("." if bpd else "; no bits/dim: the likelihood is not a probability of "
                      "the discrete data."))
    return out



def classification_section(run: Run, means: dict[str, float], num: int
                           ) -> dict[str, Any] | None:
    """The test error of a model's own classifier (:class:`~gen_jax.models.Classification`,
    e.g. a semi-supervised family), with its binomial standard error; None for other models.

    Args:
      run: the :class:`~gen_jax.train.Run`.
      means: the model's per-example metrics averaged over the split (``error`` among them).
      num: how many examples they were averaged over.
    """
    if not isinstance(run.model, Classification) or "error" not in means:
        return None
    error = means["error"]
    return {"error": error, "error_stderr": math.sqrt(max(error * (1 - error), 0.0) / num),
            "accuracy": 1.0 - error, "num_examples": num,
            "note": "The model's own classifier: the share of examples whose most probable "
                    "class is not their label, with its binomial standard error."}
