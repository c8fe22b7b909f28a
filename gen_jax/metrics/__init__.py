"""Evaluation metrics."""

from ._likelihood import ImportanceSampled as ImportanceSampled
from ._likelihood import LikelihoodEstimate as LikelihoodEstimate
from ._likelihood import bits_per_dim as bits_per_dim
from ._likelihood import evaluate_log_likelihood as evaluate_log_likelihood
from ._likelihood import importance_log_likelihood as importance_log_likelihood
