"""Fixtures of the apps' tests: tiny runs trained once per session."""

import pytest

QM9_RUNS_GROUP = "qm9_runs"
"""The xdist group of every test using :func:`qm9_runs` (one worker trains them once)."""


@pytest.fixture(scope="session")
def qm9_runs(data_dir, tmp_path_factory):
    """A 3-step CharRNN and a 1-step sequence VAE on QM9's test split (tiny sizes), and a SMILES
    file of start molecules (one invalid): ``{"charrnn": dir, "molvae": dir, "starts": file}``."""
    pytest.importorskip("rdkit", reason="the molecules extra is not installed")
    from gen_jax import cli

    root = tmp_path_factory.mktemp("qm9_runs")
    common = ["--data.name", "qm9", "--data.data-dir", str(data_dir), "--data.tfds-dir",
              str(root / "tfds"), "--data.train-split", "test", "--data.batch-size", "16"]
    sizes = {"charrnn": ["--model.hidden", "16", "--model.num-layers", "1", "--train.steps",
                         "3", "--train.num-samples", "4"],
             "molvae": ["--model.latent-dim", "4", "--model.encoder-hidden", "8",
                        "--model.decoder-hidden", "8", "--model.decoder-layers", "1",
                        "--model.embed-dim", "4", "--train.steps", "1",
                        "--train.num-samples", "1"]}
    out = {}
    for family, extra in sizes.items():
        out[family] = root / family
        assert cli.main(["train", family, *common, *extra, "--train.workdir",
                         str(out[family])]) == 0
    out["starts"] = root / "starts.smi"
    out["starts"].write_text("CCO\nCC(N)=O\nOCC#N\nnot a smiles\n")
    return out
