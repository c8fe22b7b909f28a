"""Membership-inference audits of trained runs (``gen-jax audit``): can the training examples
be told from held-out ones?"""

from ._audit import ATTACKS as ATTACKS
from ._audit import AttackResult as AttackResult
from ._audit import applicable_attacks as applicable_attacks
from ._audit import attack_name as attack_name
from ._audit import audit as audit
from ._audit import audit_sets as audit_sets
from ._audit import draw_samples as draw_samples
from ._audit import membership_scores as membership_scores
from ._audit import read_attack as read_attack
from ._cli import main as main
