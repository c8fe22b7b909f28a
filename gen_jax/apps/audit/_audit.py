"""Membership-inference audits: how well can an attacker tell the run's training examples
(members) from held-out examples of the same distribution (non-members)?

Each attack gives every example a membership score (higher: more likely a member):

- ``loss``: minus the family's own per-example score, which for a likelihood family is its
  loss (NLL or the negative ELBO) and for an autoencoder the reconstruction error (Yeom et al.
  2018's loss attack); for a GAN it is the discriminator's logit, LOGAN's white-box
  discriminator attack (Hayes et al. 2019), and is reported as ``discriminator``;
- ``distance``: minus the distance (L2, in the model's data space: pixels in [0, 1]) from the
  example to its nearest of ``num_samples`` generated samples, the black-box attack of
  GAN-Leaks (Chen et al. 2020) and LOGAN, for any family that samples.

Reported as AUROC and the true-positive rate at 1% and 0.1% false-positive rate, the reading
Carlini et al. (2022, "Membership Inference Attacks From First Principles") recommend: an
attack that reliably picks out a few members is a leak even when its AUROC is near 0.5.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from ... import metrics
from ...data import ArrayDataset
from ...evaluation import model_variables
from ...models import ExactLikelihood, LikelihoodBound, Reconstruction, Sampling
from ...train import HOLDOUT, Run, data_name, load_split
from ..score import score_examples

ATTACKS = ("loss", "distance")
"""The attacks :func:`audit` runs (``loss`` is reported as ``discriminator`` for a GAN)."""


@dataclasses.dataclass(frozen=True)
class AttackResult:
    """One attack's reading: ``auroc``, ``tpr_at_1pct_fpr``, ``tpr_at_0_1pct_fpr``, with what
    it scored."""

    attack: str
    description: str
    auroc: float
    tpr_at_1pct_fpr: float
    tpr_at_0_1pct_fpr: float
    members: int
    nonmembers: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def attack_name(run: Run, attack: str) -> str:
    """``attack`` as it applies to this run's family (``loss`` on a GAN is ``discriminator``)."""
    if attack == "loss" and not isinstance(run.model, ExactLikelihood | LikelihoodBound |
                                            Reconstruction):
        return "discriminator"
    return attack


def audit_sets(run: Run, num: int | None = None) -> tuple[ArrayDataset, ArrayDataset, str]:
    """The first ``num`` (all: None) training examples the run saw (its ``data.size`` and class
    selection included) and as many held-out examples: the ``holdout`` split when the run
    keeps one, else its eval split; and that split's name.

    Raises:
      ValueError: ``num`` below 1.
    """
    if num is not None and num < 1:
        raise ValueError(f"the audit needs at least one example a side, got num={num}")
    cfg = run.config
    members = load_split(cfg, cfg.data.train_split, size=cfg.data.size)
    split = HOLDOUT if HOLDOUT in run.info.splits else cfg.data.eval_split
    nonmembers = load_split(cfg, split)
    n = min(len(members), len(nonmembers), num or len(members))
    return _first(members, n), _first(nonmembers, n), split


def membership_scores(run: Run, ds: ArrayDataset, attack: str, *, samples: np.ndarray | None = None,
                      seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``[N]`` membership scores of ``ds`` (higher: more likely a member) under ``attack``;
    ``distance`` needs the model's ``samples`` (from :func:`draw_samples`).

    Raises:
      ValueError: an unknown attack, or ``distance`` without samples.
    """
    if attack == "loss":
        return -score_examples(run, ds, batch_size=batch_size, seed=seed)
    if attack == "distance":
        if samples is None:
            raise ValueError("the distance attack needs the model's samples (draw_samples)")
        values = metrics.dataset_images(ds).reshape(len(ds), -1)
        distance, _ = metrics.nearest_neighbours(values, samples.reshape(len(samples), -1))
        return -np.asarray(distance, np.float64)
    raise ValueError(f"unknown attack {attack!r}; use one of {', '.join(ATTACKS)}")


def draw_samples(run: Run, num: int, seed: int = 0) -> np.ndarray:
    """``num`` samples of the run (its EMA parameters), in its data space, for the distance
    attack; class-conditional families draw the classes in turn.

    Raises:
      ValueError: the family does not sample.
    """
    if not isinstance(run.model, Sampling):
        raise ValueError(f"{run.model_name} does not sample, so the distance attack does not "
                         "apply; use --attacks loss")
    label = (np.arange(num, dtype=np.int32) % run.info.num_classes
             if run.model.num_classes else None)
    out = metrics.model_samples(run.model, model_variables(run),
                                jax.random.fold_in(jax.random.PRNGKey(seed), 1), num, label=label)
    return np.asarray(out, np.float32)


def read_attack(attack: str, description: str, member_scores: np.ndarray,
                nonmember_scores: np.ndarray) -> AttackResult:
    """AUROC and TPR at 1% / 0.1% FPR of members (positives) against non-members."""
    scores = np.r_[member_scores, nonmember_scores]
    labels = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    return AttackResult(attack, description, metrics.auroc(scores, labels),
                        metrics.tpr_at_fpr(scores, labels, 0.01),
                        metrics.tpr_at_fpr(scores, labels, 0.001),
                        len(member_scores), len(nonmember_scores))


_DESCRIPTIONS = {
    "loss": "minus the per-example loss (NLL, negative ELBO or reconstruction error)",
    "discriminator": "the discriminator's logit (LOGAN's white-box attack)",
    "distance": "minus the L2 distance to the nearest generated sample (GAN-Leaks / LOGAN "
                "black-box)",
}


def applicable_attacks(run: Run) -> tuple[str, ...]:
    """The attacks that apply to the run's family: ``loss`` always, ``distance`` when it
    samples."""
    return ATTACKS if isinstance(run.model, Sampling) else ("loss",)


def audit(run: Run, *, attacks: tuple[str, ...] | None = None, num: int | None = 1000,
          num_samples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Runs the membership-inference ``attacks`` (default: :func:`applicable_attacks`) on
    ``num`` members against as many non-members (:func:`audit_sets`), ``num_samples``
    generated samples for ``distance``.

    Returns:
      ``{"members_from", "nonmembers_from", "num", "attacks": {name: AttackResult.to_json()}}``.

    Raises:
      ValueError: an unknown attack, a family the distance attack does not apply to, or bad
        counts.
    """
    attacks = applicable_attacks(run) if attacks is None else attacks
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        raise ValueError(f"unknown attack {', '.join(map(repr, unknown)) or '(none given)'}; "
                         f"use one or more of {', '.join(ATTACKS)}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    samples = draw_samples(run, num_samples, seed) if "distance" in attacks else None
    members, nonmembers, split = audit_sets(run, num)
    found = {}
    for attack in attacks:
        name = attack_name(run, attack)
        scored = [membership_scores(run, ds, attack, samples=samples, seed=seed)
                  for ds in (members, nonmembers)]
        found[name] = read_attack(name, _DESCRIPTIONS[name], *scored).to_json()
    cfg = run.config
    return {"members_from": f"{data_name(cfg)}:{cfg.data.train_split}"
                            + (f" (first {cfg.data.size})" if cfg.data.size else ""),
            "nonmembers_from": f"{data_name(cfg)}:{split}", "num": len(members),
            "num_samples": num_samples if samples is not None else None, "attacks": found}


def _first(ds: ArrayDataset, n: int) -> ArrayDataset:
    return dataclasses.replace(ds, x=ds.x[:n], label=None if ds.label is None else ds.label[:n])
