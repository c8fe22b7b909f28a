"""``gen-jax fid`` and ``gen-jax inception``: FID between image folders, statistics files and
data sets on the FID Inception network, like pytorch-fid's command line, and the one-time
conversion of the network's weights."""

from ._commands import fid_main as fid_main
from ._commands import inception_main as inception_main
from ._commands import source_statistics as source_statistics
