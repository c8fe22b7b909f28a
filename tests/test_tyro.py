"""tyro's parse errors become one line; --help and good flags are untouched."""

import dataclasses
import os
import re
from typing import Literal

import pytest

from gen_jax import _tyro
from gen_jax.models import FAMILIES


@dataclasses.dataclass(frozen=True)
class Args:
    steps: int = 10
    loss: str = "hinge"
    learning_rate: float = 1e-3
    arch: Literal["mlp", "conv"] = "mlp"


@dataclasses.dataclass(frozen=True)
class Required:
    dataset: str


BOXED = """\
╭─ Unrecognized options ───────────────────────────────────────────────────────╮
│ Unrecognized options: --model.bogus, 3                                       │
│ ──────────────────────────────────────────────────────────────────────────── │
│ Perhaps you meant:                                                           │
│     --model.loss {non_saturating,hinge,wasserstein}                          │
│         non_saturating (Goodfellow et al.), hinge, or wasserstein (needs     │
│         gp_weight or                                                         │
│ ──────────────────────────────────────────────────────────────────────────── │
│ For full helptext, run gen-jax train gan --help                              │
╰──────────────────────────────────────────────────────────────────────────────╯
"""

PLAIN = """\
 Invalid choice
 ------------------------------------------------------------------------------
  invalid choice 'hinj' for argument '--model.loss'. Expected one of
  ('non_saturating', 'hinge', 'wasserstein').
  ------------------------------------------------------------------------------
  For full helptext, run gen-jax train gan --help
"""


def test_boxed_and_plain_texts_become_one_line():
    assert _tyro.one_line(BOXED, "gen-jax train gan") == (
        "Unrecognized options: --model.bogus, 3 (did you mean --model.loss? see "
        "`gen-jax train gan --help`)")
    assert _tyro.one_line(PLAIN, "gen-jax train gan") == (
        "invalid choice 'hinj' for argument '--model.loss'. Expected one of ('non_saturating', "
        "'hinge', 'wasserstein'). (see `gen-jax train gan --help`)")
    assert _tyro.one_line("Traceback: something else\n", "p") is None


@pytest.mark.parametrize("args, message", [
    (["--step", "3"], "Unrecognized options: --step, 3 (did you mean --steps"),
    (["--steps", "abc"], "Error parsing --steps: invalid literal for int()"),
    (["--steps"], "Missing value for argument '--steps'"),
])
def test_parse_errors_raise_one_line(args, message, capsys):
    with pytest.raises(ValueError, match="see `prog --help`") as info:
        _tyro.parse(Args, args, "prog")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert capsys.readouterr().err == ""  # tyro's box is not printed as well


def test_every_message_and_long_values_survive():
    with pytest.raises(ValueError) as info:  # tyro reports both in one box
        _tyro.parse(Required, ["--datset", "mnist"], "prog")
    assert "Missing from prog: --dataset" in str(info.value)
    assert "; Unrecognized options: --datset mnist" in str(info.value)
    long = "x" * 300  # wider than any terminal: not wrapped into two words
    with pytest.raises(ValueError, match=f"invalid choice '{long}' for argument '--arch'"):
        _tyro.parse(Args, ["--arch", long], "prog")


def test_good_flags_and_help_are_tyros():
    assert _tyro.parse(Args, ["--steps", "3", "--learning-rate", "0.5"], "prog") == Args(
        3, "hinge", 0.5)
    assert "COLUMNS" not in os.environ or os.environ["COLUMNS"] != "100000"  # restored
    with pytest.raises(SystemExit) as info:
        _tyro.parse(Args, ["--help"], "prog")
    assert info.value.code == 0


def test_plain_drops_restructuredtext_markup():
    from gen_jax._tyro import plain

    assert plain("uses :class:`~gen_jax.nn.GroupedBatchNorm` and :func:`gen_jax.data.load` "
                 "with ``pac > 1``") == "uses GroupedBatchNorm and gen_jax.data.load with pac > 1"


@pytest.mark.parametrize("argv", [["--help"], ["classifier", "--help"],
                                  ["classifier", "train", "--help"],
                                  *[["train", name, "--help"] for name in sorted(FAMILIES)]])
def test_help_has_no_restructuredtext_markup(argv, capsys):
    from gen_jax import cli

    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    assert code in (0, None)
    text = capsys.readouterr().out
    assert len(text) > 200
    assert not re.search(r"``|:(class|func|meth|mod|data|attr):`", text), text
