"""``gen-jax anomaly fit | score | report``: anomaly detection with any generative family.

A detector is a trained run (any family: every one scores examples, higher meaning more unusual)
plus a threshold kept in ``RUN/anomaly.json``. ``fit`` trains the run on normal data (a built-in
data set's ``--normal-classes``, a folder of normal images, a table) and sets the threshold, from
a target false-positive rate on held-out normal data or from an expected contamination rate of
the training data; ``score`` writes each example's score and decision; ``report`` measures the
detector on labelled data (AUROC, AUPRC, FPR at 95% TPR, F1 at the threshold, the ROC curve,
the most and least anomalous examples).
"""

from ._cli import main as main
from ._detector import CORRECTIONS as CORRECTIONS
from ._detector import RECORD as RECORD
from ._detector import Detector as Detector
from ._detector import anomalous as anomalous
from ._detector import background_run as background_run
from ._detector import calibrate as calibrate
from ._detector import complexity_bits as complexity_bits
from ._detector import detector_scores as detector_scores
from ._detector import load_detector as load_detector
from ._detector import scores_of as scores_of
from ._detector import scoring_config as scoring_config
from ._report import detection_report as detection_report
