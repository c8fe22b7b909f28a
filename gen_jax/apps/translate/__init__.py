"""Translation across domains as data (``gen-jax translate``): a split of one domain carried
into the other by a pix2pix or CycleGAN run, as a labelled data set that ``gen-jax augment
evaluate`` trains a classifier on (domain adaptation)."""

from ._cli import main as main
from ._images import TranslateSettings as TranslateSettings
from ._images import translated_set as translated_set
