"""Generative adversarial networks: two players in one train state and one jitted step."""

from ._losses import discriminator_loss as discriminator_loss
from ._losses import generator_loss as generator_loss
from ._losses import gradient_penalty as gradient_penalty
from ._losses import r1_penalty as r1_penalty
from ._model import GAN as GAN
from ._model import GANConfig as GANConfig
from ._model import build as build
from ._nets import Discriminator as Discriminator
from ._nets import Generator as Generator
from ._nets import pack as pack
from ._update import TwoPlayerTransform as TwoPlayerTransform
from ._update import two_player as two_player
