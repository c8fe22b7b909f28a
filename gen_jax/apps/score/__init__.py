"""``gen-jax score``: per-example anomaly scores of a data split, or of new data, under a run.

Every family scores examples (:meth:`~gen_jax.models.GenerativeModel.anomaly_score`: higher
means more unusual; a flow's NLL, a VAE's negative ELBO, an autoencoder's reconstruction error,
a GAN's negated discriminator logit), so this application works for any run.
"""

from ._score import SCORES as SCORES
from ._score import main as main
from ._score import score_examples as score_examples
from ._score import score_split as score_split
