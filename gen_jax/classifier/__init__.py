"""The feature classifiers' training and their ``gen-jax classifier`` command.

The networks, their versioning and loading are :mod:`gen_jax.metrics`'s
(:class:`~gen_jax.metrics.ConvClassifier`, :func:`~gen_jax.metrics.load_classifier`).
"""

from ._cli import ClassifierTrainArgs as ClassifierTrainArgs
from ._cli import classifier_main as classifier_main
from ._train import cross_entropy_loss as cross_entropy_loss
from ._train import make_classifier_step as make_classifier_step
from ._train import train_classifier as train_classifier
