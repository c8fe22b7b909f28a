"""Evaluation reports of trained runs (``gen-jax eval``): likelihoods in one interface (exact
NLL and bits/dim for flows, ELBO and importance-sampled NLL for VAEs, none for GANs), sample
quality on classifier features, mode coverage on data with known modes (PacGAN's protocol), a
frozen target-domain classifier on a translation model's images,
and a JSON + markdown report with a sample grid and the nearest-neighbour panel."""

from ._likelihood import bits_per_dim_meaningful as bits_per_dim_meaningful
from ._likelihood import classification_section as classification_section
from ._likelihood import importance_nll as importance_nll
from ._likelihood import likelihood_kind as likelihood_kind
from ._likelihood import likelihood_section as likelihood_section
from ._likelihood import model_variables as model_variables
from ._markdown import markdown_report as markdown_report
from ._markdown import summary_table as summary_table
from ._modes import mode_section as mode_section
from ._quality import Quality as Quality
from ._quality import classifier_dataset as classifier_dataset
from ._quality import quality_section as quality_section
from ._report import evaluate_run as evaluate_run
from ._report import package_versions as package_versions
from ._settings import EvalSettings as EvalSettings
from ._translation import match_channels as match_channels
from ._translation import translate_images as translate_images
from ._translation import translation_section as translation_section
