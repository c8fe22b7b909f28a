"""The bookkeeping of experiments/gan_stacked_mnist that its recorded table rests on: merging a
score into the results file, the table's mean ± standard error per (model, steps), and the
committed results file's agreement with that table."""

import json

import pytest

from ..conftest import REPO
from ._scripts import load_script

RESULTS = REPO / "experiments" / "gan_stacked_mnist" / "results.json"


@pytest.fixture(scope="module")
def run():
    return load_script("gan_stacked_mnist", "run.py")


def score(pac=2, seed=0, step=4000, modes=990, kl=0.5, share=0.01, g_steps=1):
    return {"pac": pac, "seed": seed, "g_steps": g_steps, "step": step, "modes": modes,
            "kl": kl, "max_mode_share": share}


def test_record_replaces_the_same_score_and_keeps_the_others(run, tmp_path):
    path = tmp_path / "results" / "stacked.json"
    run.record(path, score(seed=0, modes=980))
    run.record(path, score(seed=1, modes=970))
    run.record(path, score(seed=0, step=8000, modes=999))
    merged = run.record(path, score(seed=0, modes=983))  # seed 0 at 4,000 scored again
    assert json.loads(path.read_text()) == merged
    assert [(r["seed"], r["step"], r["modes"]) for r in merged["runs"]] == [
        (0, 4000, 983), (0, 8000, 999), (1, 4000, 970)]
    assert run.record(path, score(seed=0, g_steps=2))["runs"][0]["g_steps"] == 1  # its own key


def test_report_gives_the_mean_and_standard_error_over_seeds(run):
    text = run.report({"runs": [score(pac=1, seed=0, modes=2, kl=6.9, share=0.9998),
                                score(seed=0, modes=990, kl=0.2, share=0.004),
                                score(seed=1, modes=996, kl=0.4, share=0.006),
                                score(seed=0, step=20000, modes=1000, kl=0.056, share=0.0024)]})
    lines = text.splitlines()
    assert lines[2] == "| DCGAN | 1 | 4,000 | 0 | 2.0 | 6.900 | 99.98% |"
    # modes 990, 996: mean 993, sample sd 3 * sqrt(2), se 3; KL 0.3 ± 0.1; share 0.5% ± 0.1%
    assert lines[3] == ("| PacDCGAN2 | 1 | 4,000 | 0, 1 | 993.0 ± 3.0 | 0.300 ± 0.100 | "
                        "0.50% ± 0.10% |")
    assert lines[4] == "| PacDCGAN2 | 1 | 20,000 | 0 | 1000.0 | 0.056 | 0.24% |"
    assert lines[5].startswith("| PacGAN Table 2")


def test_the_committed_results_file_reads_as_its_table(run):
    summary = json.loads(RESULTS.read_text())
    assert summary["num_samples"] == run.NUM_SAMPLES
    keys = [run.row_key(r) for r in summary["runs"]]
    assert keys == sorted(set(keys))  # one row per score, in order
    assert "| PacDCGAN2 | 1 | 20,000 | 0 | 1000.0 | 0.056 |" in run.report(summary)
