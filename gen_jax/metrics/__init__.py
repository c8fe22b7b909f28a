"""Evaluation metrics: likelihoods, mode coverage, and sample quality on features (in JAX).

Sample quality: Frechet distance, KID, precision/recall/density/coverage, novelty
(authenticity, memorized fraction, closest pairs) and the classifier score, on ``[N, D]`` feature
arrays; features come from any :class:`FeatureExtractor` (e.g. the toolkit's trained
MNIST / Fashion-MNIST classifiers, :func:`load_classifier`, or the FID Inception network,
:func:`load_inception`, whose numbers are comparable with published FIDs). Molecules:
the Frechet ChemNet Distance on the ``fcd`` package's ChemNet (:func:`load_chemnet`), and
Tanimoto similarities of fingerprints (:func:`nearest_tanimoto`, :func:`internal_diversity`).

Anomaly detection: ROC curve, AUROC, AUPRC, FPR at a TPR, F1 at a threshold, and thresholds from
a contamination rate or a target false-positive rate (:func:`detection_metrics`).
"""

from ._chemnet import CHEMNET_HOW_TO_GET as CHEMNET_HOW_TO_GET
from ._chemnet import FCD_VOCAB as FCD_VOCAB
from ._chemnet import ChemNetFeatures as ChemNetFeatures
from ._chemnet import chemnet_params as chemnet_params
from ._chemnet import fcd_one_hot as fcd_one_hot
from ._chemnet import fcd_tokens as fcd_tokens
from ._chemnet import fcd_torch_one_hot as fcd_torch_one_hot
from ._chemnet import frechet_chemnet_distance as frechet_chemnet_distance
from ._chemnet import load_chemnet as load_chemnet
from ._chemnet import locate_chemnet as locate_chemnet
from ._classifier import CLASSIFIER_ARCH_VERSION as CLASSIFIER_ARCH_VERSION
from ._classifier import CLASSIFIER_RECORD as CLASSIFIER_RECORD
from ._classifier import DEFAULT_CLASSIFIER_ROOT as DEFAULT_CLASSIFIER_ROOT
from ._classifier import ClassifierConfig as ClassifierConfig
from ._classifier import ConvClassifier as ConvClassifier
from ._classifier import TrainedClassifier as TrainedClassifier
from ._classifier import architecture_hash as architecture_hash
from ._classifier import classifier_architecture as classifier_architecture
from ._classifier import classifier_dir as classifier_dir
from ._classifier import load_classifier as load_classifier
from ._classifier import load_classifier_from as load_classifier_from
from ._classifier_score import ClassifierScore as ClassifierScore
from ._classifier_score import class_counts as class_counts
from ._classifier_score import classifier_score as classifier_score
from ._detection import Detection as Detection
from ._detection import TypicalityTest as TypicalityTest
from ._detection import auroc as auroc
from ._detection import average_precision as average_precision
from ._detection import batch_statistics as batch_statistics
from ._detection import detection_metrics as detection_metrics
from ._detection import f1_at as f1_at
from ._detection import fpr_at_tpr as fpr_at_tpr
from ._detection import roc_curve as roc_curve
from ._detection import threshold_for_contamination as threshold_for_contamination
from ._detection import threshold_for_fpr as threshold_for_fpr
from ._detection import tpr_at_fpr as tpr_at_fpr
from ._distances import knn_radii as knn_radii
from ._distances import nearest_neighbours as nearest_neighbours
from ._distances import self_tile_pairs as self_tile_pairs
from ._features import Classifier as Classifier
from ._features import FeatureExtractor as FeatureExtractor
from ._features import batched_apply as batched_apply
from ._features import dataset_images as dataset_images
from ._features import extract_features as extract_features
from ._features import extract_logits as extract_logits
from ._features import model_samples as model_samples
from ._frechet import FeatureStatistics as FeatureStatistics
from ._frechet import feature_statistics as feature_statistics
from ._frechet import frechet_distance as frechet_distance
from ._frechet import frechet_distance_from_statistics as frechet_distance_from_statistics
from ._inception import INCEPTION_RESIZES as INCEPTION_RESIZES
from ._inception import InceptionFeatures as InceptionFeatures
from ._inception import load_inception as load_inception
from ._inception import resize_clean as resize_clean
from ._inception import resize_tf_bilinear as resize_tf_bilinear
from ._inception import tf_bilinear_matrix as tf_bilinear_matrix
from ._inception_stats import cached_features as cached_features
from ._inception_stats import dataset_statistics as dataset_statistics
from ._inception_stats import folder_features as folder_features
from ._inception_stats import load_statistics as load_statistics
from ._inception_stats import save_statistics as save_statistics
from ._inception_stats import statistics_of as statistics_of
from ._inception_weights import INCEPTION_HOW_TO_GET as INCEPTION_HOW_TO_GET
from ._inception_weights import cache_dir as cache_dir
from ._inception_weights import convert_inception as convert_inception
from ._inception_weights import converted_record as converted_record
from ._inception_weights import inception_params as inception_params
from ._inception_weights import installed_inception_file as installed_inception_file
from ._inception_weights import locate_inception as locate_inception
from ._kid import KID as KID
from ._kid import kernel_inception_distance as kernel_inception_distance
from ._kid import mmd2_unbiased as mmd2_unbiased
from ._kid import polynomial_kernel as polynomial_kernel
from ._likelihood import ImportanceSampled as ImportanceSampled
from ._likelihood import LikelihoodEstimate as LikelihoodEstimate
from ._likelihood import bits_per_dim as bits_per_dim
from ._likelihood import evaluate_log_likelihood as evaluate_log_likelihood
from ._likelihood import importance_log_likelihood as importance_log_likelihood
from ._modes import ModeCoverage as ModeCoverage
from ._modes import kl_to_uniform as kl_to_uniform
from ._modes import label_coverage as label_coverage
from ._modes import mode_coverage as mode_coverage
from ._modes import nearest_mode as nearest_mode
from ._modes import stacked_mnist_coverage as stacked_mnist_coverage
from ._modes import stacked_mnist_labels as stacked_mnist_labels
from ._modes import toy_mode_coverage as toy_mode_coverage
from ._novelty import Novelty as Novelty
from ._novelty import memorization_panel as memorization_panel
from ._novelty import novelty as novelty
from ._prdc import PRDC as PRDC
from ._prdc import density_coverage as density_coverage
from ._prdc import inside_real_manifold as inside_real_manifold
from ._prdc import prdc as prdc
from ._prdc import precision_recall as precision_recall
from ._report import sample_quality as sample_quality
from ._report import sample_quality_from_features as sample_quality_from_features
from ._tanimoto import internal_diversity as internal_diversity
from ._tanimoto import nearest_tanimoto as nearest_tanimoto
from ._tanimoto import tanimoto_aggregate as tanimoto_aggregate
