"""Differentially private training (DP-SGD): per-example clipping, Gaussian noise, and the
privacy accountant (Google's ``dp-accounting``, the ``privacy`` extra).

The mechanism is the Poisson-sampled Gaussian mechanism of Abadi et al. (2016): at each step
every training example enters the batch with probability ``q`` (:class:`gen_jax.data.
PoissonLoader`), every example's gradient is clipped to L2 norm ``C``, their sum gets noise
``N(0, (sigma C)^2 I)``, and the result is divided by the expected batch size ``q N``. The
accountant composes ``steps`` such events at ``(q, sigma)``; its state is the step count, which
the checkpoint holds, and ``sigma`` and ``q``, which ``WORKDIR/privacy.json`` holds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jax

from .._extras import require
from ..models import OwnUpdate, PrivateUpdate
from ..optim import NORM_CHUNK, DPSettings


def _event(noise_multiplier: float, sampling_rate: float, steps: int):
    dpa = require("dp_accounting", "privacy", "differentially private training")
    one = dpa.GaussianDpEvent(noise_multiplier)
    if sampling_rate < 1.0:
        one = dpa.PoissonSampledDpEvent(sampling_rate, one)
    return dpa.SelfComposedDpEvent(one, steps)


def epsilon_spent(noise_multiplier: float, sampling_rate: float, steps: int, delta: float,
                  accountant: str = "rdp") -> float:
    """Epsilon of ``steps`` Poisson-sampled Gaussian steps at ``(q, sigma)``, for ``delta``
    (0 for no steps)."""
    if steps <= 0:
        return 0.0
    require("dp_accounting", "privacy", "differentially private training")
    from dp_accounting import pld, rdp  # noqa: PLC0415

    acc = rdp.RdpAccountant() if accountant == "rdp" else pld.PLDAccountant()
    acc.compose(_event(noise_multiplier, sampling_rate, steps))
    # (RDP orders whose series does not converge at small sigma are left out of the minimum,
    # which absl logs as a warning per order: a search over sigma would print dozens.)
    quiet = logging.getLogger("absl")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return float(acc.get_epsilon(delta))
    finally:
        quiet.setLevel(level)


def noise_for_epsilon(target_epsilon: float, sampling_rate: float, steps: int, delta: float,
                      accountant: str = "rdp", *, tolerance: float = 1e-3) -> float:
    """The smallest noise multiplier (within ``tolerance`` relative) whose ``steps`` steps
    spend at most ``target_epsilon``.

    Raises:
      ValueError: no noise multiplier up to 1,000 reaches the target.
    """
    high = 1.0
    while epsilon_spent(high, sampling_rate, steps, delta, accountant) > target_epsilon:
        high *= 2.0
        if high > 1000.0:
            raise ValueError(f"epsilon {target_epsilon} at delta {delta} is out of reach in "
                             f"{steps} steps at sampling rate {sampling_rate:.4g}: raise "
                             "privacy.target_epsilon, or lower train.steps or the batch size")
    low = 0.0 if high == 1.0 else high / 2.0
    while high - low > tolerance * high:
        mid = (low + high) / 2.0
        if mid > 0 and epsilon_spent(mid, sampling_rate, steps, delta, accountant) \
                <= target_epsilon:
            high = mid
        else:
            low = mid
    return high


PRIVACY_RECORD = "privacy.json"
"""The mechanism of a private run, in its folder: what its epsilon is computed from."""


def privacy_plan(cfg: Any, model: Any, state: Any, num_train: int) -> dict[str, Any] | None:
    """The mechanism a run trains under (None: ``cfg.privacy`` is off): a resumed run's own
    record (``WORKDIR/privacy.json``), else the noise multiplier given or found for the target
    epsilon over ``train.steps`` steps.

    Raises:
      ValueError: a family or setting DP-SGD does not cover, or a target out of reach.
    """
    p = cfg.privacy
    if not p.enabled:
        return None
    if isinstance(model, OwnUpdate):
        if not isinstance(model, PrivateUpdate):
            raise ValueError("differential privacy covers the families trained on one loss (vae, "
                             "ae, flows, ppca, diffusion, flow_matching, charrnn, ...) and the "
                             "gan's discriminator; this family's own update has no private form")
        model.check_privacy()  # its players' statistics are the family's to vouch for
    elif jax.tree.leaves(state.batch_stats):
        raise ValueError("this model keeps batch statistics, which mix the examples of a batch "
                         "and void per-example clipping: train it without batch norm for "
                         "differential privacy")
    if cfg.train.strategy != "jit":
        raise ValueError("differential privacy runs under train.strategy jit; drop "
                         "--train.strategy pmap")
    record_path = Path(cfg.train.workdir) / PRIVACY_RECORD
    if record_path.is_file():
        return json.loads(record_path.read_text())
    rate = min(1.0, cfg.data.batch_size / num_train)
    sigma = p.noise_multiplier or noise_for_epsilon(
        p.target_epsilon, rate, cfg.train.steps, p.delta, p.accountant)
    return {"noise_multiplier": sigma, "sampling_rate": rate,
            "expected_batch": rate * num_train, "clip_norm": p.clip_norm, "delta": p.delta,
            "accountant": p.accountant, "target_epsilon": p.target_epsilon,
            "planned_steps": cfg.train.steps, "num_train": num_train}


def plan_settings(plan: dict[str, Any], norm_chunk: int = NORM_CHUNK) -> DPSettings:
    """The private step's settings: the plan's mechanism and how it computes norms."""
    return DPSettings(plan["clip_norm"], plan["noise_multiplier"], plan["expected_batch"],
                      norm_chunk)


def plan_epsilon(plan: dict[str, Any], steps: int) -> float:
    """Epsilon spent by ``steps`` steps of the plan's mechanism."""
    return epsilon_spent(plan["noise_multiplier"], plan["sampling_rate"], steps, plan["delta"],
                         plan["accountant"])


def run_privacy(workdir: Any, step: int) -> dict[str, Any] | None:
    """A run's DP-SGD mechanism (``WORKDIR/privacy.json``) and the ``epsilon`` its first
    ``step`` steps spent, or None for a run trained without differential privacy."""
    path = Path(workdir) / PRIVACY_RECORD
    if not path.is_file():
        return None
    plan = json.loads(path.read_text())
    return {**plan, "steps": step, "epsilon": plan_epsilon(plan, step)}
