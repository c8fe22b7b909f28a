"""Generated data as training data (``gen-jax augment``): labelled data sets drawn from
class-conditional runs, and what they do for a classifier trained under an equal step budget
(real only, classical augmentation, real + generated, generated only)."""

from ._classical import ClassicalAugment as ClassicalAugment
from ._classical import affine as affine
from ._cli import main as main
from ._evaluate import ARMS as ARMS
from ._evaluate import ArmResult as ArmResult
from ._evaluate import EvaluateSettings as EvaluateSettings
from ._evaluate import evaluate_augmentation as evaluate_augmentation
from ._evaluate import markdown as markdown
from ._evaluate import paired_test as paired_test
from ._evaluate import train_arm as train_arm
from ._generate import RECORD_FORMAT as RECORD_FORMAT
from ._generate import RECORD_VERSION as RECORD_VERSION
from ._generate import GeneratedSet as GeneratedSet
from ._generate import GenerateSettings as GenerateSettings
from ._generate import Keep as Keep
from ._generate import generate_dataset as generate_dataset
from ._generate import load_generated as load_generated
from ._generate import make_filter as make_filter
from ._generate import save_generated as save_generated
