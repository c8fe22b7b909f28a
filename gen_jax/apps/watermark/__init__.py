"""Invisible watermarks in generated images (``gen-jax watermark``): Tree-Ring keys planted in
the noise that flows, diffusion and flow-matching models make images from, found again by
mapping an image back to its noise, and the detector's rates after common edits."""

from ._app import EDITS as EDITS
from ._app import EditResult as EditResult
from ._app import apply_edit as apply_edit
from ._app import check_run as check_run
from ._app import detect_images as detect_images
from ._app import draw_noise as draw_noise
from ._app import generate as generate
from ._app import recover_noise as recover_noise
from ._app import robustness as robustness
from ._app import watermarked_samples as watermarked_samples
from ._cli import main as main
from ._tree_ring import Detection as Detection
from ._tree_ring import TreeRingKey as TreeRingKey
from ._tree_ring import detect as detect
from ._tree_ring import embed as embed
