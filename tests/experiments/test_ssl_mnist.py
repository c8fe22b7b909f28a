"""experiments/ssl_mnist's table: runs grouped by setting, mean and standard error over seeds."""

import pytest

from ._scripts import load_script


@pytest.fixture(scope="module")
def run():
    return load_script("ssl_mnist", "run.py")


def test_summary_groups_the_seeds_of_a_setting(run):
    results = {"m1m2/n100/seed0/steps50000": {"error": 0.03},
               "m1m2/n100/seed1/steps50000": {"error": 0.05},
               "m1m2/n100/seed0/steps50000/alpha50": {"error": 0.02},
               "m2/n600/seed0/steps30000": {"error": 0.1}}
    lines = run.summary(results).splitlines()
    # errors 3% and 5%: mean 4%, sample standard deviation sqrt(2), standard error 1
    assert lines[2:] == ["| m1m2/n100/steps50000 | 2 | 4.00 ± 1.00 |",
                         "| m1m2/n100/steps50000/alpha50 | 1 | 2.00 |",
                         "| m2/n600/steps30000 | 1 | 10.00 |"]
