"""The command line: help, a full train -> sample -> eval round, and one-line errors."""

import json
import shutil
import sys

import pytest

from .conftest import run_cli, run_python

SMALL = ["--data.batch-size", "32", "--train.steps", "30", "--train.log-every", "10",
         "--train.checkpoint-every", "30", "--train.eval-every", "1000", "--train.sample-every",
         "15", "--train.no-progress", "--model.hidden", "32", "--model.latent-dim", "4"]


def test_help_lists_commands_and_overrides():
    out = run_cli(["--help"]).stdout
    for command in ("train", "sample", "eval", "launch"):
        assert command in out
    out = run_cli(["train", "vae", "--help"]).stdout
    assert "--train.steps" in out and "--model.latent-dim" in out and "--data.name" in out


def test_the_command_line_loads_distrax_only_for_flows():
    # distrax and TFP take about 0.7 s of the CLI's start; only the flow families need them.
    code = ("import sys\n"
            "import gen_jax, gen_jax.cli\n"
            "from gen_jax import models\n"
            "info = gen_jax.data.info('digits')\n"
            "models.build('vae', models.VAEConfig(), info)\n"
            "models.build('gan', models.GANConfig(), info)\n"
            "assert 'bijectors' in dir(gen_jax) and 'Flow' in dir(models), 'dir() hides them'\n"
            "assert 'distrax' not in sys.modules, 'loaded before a flow'\n"
            "flow = models.build('realnvp', models.RealNVPConfig(), info)\n"
            "assert 'distrax' in sys.modules and isinstance(flow, models.Flow)\n"
            "assert gen_jax.bijectors.ActNorm is not None\n")
    run_python(code)


def test_train_sample_eval_round_trip(tmp_path, capsys):
    # Training in a subprocess (the real entry point); sample and eval in this process.
    from gen_jax import cli

    out = run_cli(["train", "vae", *SMALL, "--train.workdir", tmp_path])
    final = json.loads(out.stdout[out.stdout.index("{"):])
    assert final["num_examples"] > 0 and final["elbo"] < 0
    for name in ("config.json", "final_metrics.json", "metrics.jsonl", "samples.png",
                 "samples/step_0000015.png"):
        assert (tmp_path / name).is_file(), name
    assert any((tmp_path / "tensorboard").iterdir())
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train/loss" in r] == [10, 20, 30]

    assert cli.main(["sample", "--workdir", str(tmp_path), "--num", "16", "--out",
                     str(tmp_path / "s.png"), "--npy", str(tmp_path / "s.npy")]) == 0
    import numpy as np

    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (16, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 1
    # Every image names itself synthetic, the run, the step and the config it was made with.
    from gen_jax.provenance import config_digest, read_provenance
    from gen_jax.train import load_run

    digest = config_digest(load_run(tmp_path).config)
    for name, step in (("s.png", "30"), ("samples.png", "30"), ("samples/step_0000015.png", "15")):
        text = read_provenance(tmp_path / name)
        assert (text["gen_jax:synthetic"], text["gen_jax:run"], text["gen_jax:step"],
                text["gen_jax:config_sha256"]) == ("true", str(tmp_path), step, digest), name
    capsys.readouterr()
    assert cli.main(["sample", "--workdir", str(tmp_path), "--label", "1"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "gen-jax: error: this vae run is not class-conditional, so it has no label to sample; "
        "leave out the label")
    assert cli.main(["sample", "--workdir", str(tmp_path), "--temperature", "0.5"]) == 2
    assert "has no temperature" in capsys.readouterr().err.strip().splitlines()[-1]

    assert cli.main(["eval", "--workdir", str(tmp_path), "--importance-samples", "50",
                     "--num-examples", "64"]) == 0
    report = json.loads((tmp_path / "eval_test.json").read_text())
    # The importance-sampled bound is tighter than the ELBO (up to Monte Carlo noise).
    assert report["nll_is50"] <= -report["elbo"] + 0.5

    # A run moved elsewhere samples from its own checkpoints (not the folder it was trained in).
    moved = tmp_path.parent / f"{tmp_path.name}_moved"
    shutil.move(tmp_path, moved)
    assert cli.main(["sample", "--workdir", str(moved), "--num", "16", "--npy",
                     str(moved / "s_moved.npy")]) == 0
    np.testing.assert_array_equal(np.load(moved / "s_moved.npy"), samples)


def test_conditional_vae_samples_depend_on_the_label(tmp_path, capsys):
    from gen_jax import cli

    run_cli(["train", "vae", *SMALL, "--model.conditional", "--train.workdir", tmp_path])
    assert (tmp_path / "samples.png").is_file()
    import jax
    import numpy as np

    from gen_jax.train import load_run

    run = load_run(tmp_path)
    key = jax.random.PRNGKey(3)
    same_z = [np.asarray(run.model.sample(run.state.variables(), key, 2,
                                          label=jax.numpy.array([0, c]))) for c in (0, 7)]
    np.testing.assert_array_equal(same_z[0][0], same_z[1][0])  # same z, same label
    assert np.abs(same_z[0][1] - same_z[1][1]).mean() > 1e-3  # same z, labels 0 vs 7

    # `sample --label 7`: every sample of class 7, the same draws as the model's own sampler.
    assert cli.main(["sample", "--workdir", str(tmp_path), "--num", "6", "--label", "7",
                     "--npy", str(tmp_path / "sevens.npy")]) == 0
    expected = run.model.sample(run.state.variables(ema=True), jax.random.PRNGKey(0), 6,
                                label=jax.numpy.full((6,), 7, jax.numpy.int32))
    np.testing.assert_allclose(np.load(tmp_path / "sevens.npy"), expected, rtol=1e-5, atol=1e-6)
    assert (tmp_path / "samples_seed0_label7.png").is_file()
    capsys.readouterr()
    assert cli.main(["sample", "--workdir", str(tmp_path), "--label", "10"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "gen-jax: error: label 10 is not a class of digits; use 0 to 9")


def _corrupt_mnist(tmp_path):
    import shutil

    from .conftest import shared_data_dir

    src = shared_data_dir()
    if src is None:
        pytest.skip("real data not found")
    dst = tmp_path / "raw" / "mnist"
    dst.mkdir(parents=True)
    for f in (src / "mnist").iterdir():
        shutil.copy(f, dst / f.name)
    (dst / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not a gzip file")
    return tmp_path / "raw"


def test_missing_and_corrupt_data_files_get_one_line_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli(["train", "vae", "--data.name", "mnist", "--data.data-dir", empty,
                    "--data.tfds-dir", tmp_path / "tfds1", "--train.workdir", tmp_path / "a"],
                   check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and last.startswith("gen-jax: error:")
    assert "train-images-idx3-ubyte.gz" in last and "GEN_JAX_DATA_DIR" in last

    raw = _corrupt_mnist(tmp_path)
    proc = run_cli(["train", "vae", "--data.name", "mnist", "--data.data-dir", raw,
                    "--data.tfds-dir", tmp_path / "tfds2", "--train.workdir", tmp_path / "b"],
                   check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and "t10k-labels-idx1-ubyte.gz" in last, proc.stderr[-2000:]


BAD_INPUT = [
    (["train", "vae", "--data.name", "cifar"], "unknown dataset 'cifar'"),
    (["train", "vae", "--data.batch-size", "100000"], "is larger than the"),
    (["train", "--config", "missing.py"], "config file missing.py does not exist"),
    (["sample", "--workdir", "/nonexistent/run"], "has no config.json"),
    (["train", "vae", "--model.conditional", "--data.name", "binarized_mnist",
      "--data.data-dir", "/nonexistent"], "conditional"),
    (["train", "vae", "--model.arch", "conv", "--data.name", "ring8"], "conv"),
    (["train", "vae", "--data.batch-size", "30"], "does not split over 4 devices"),
    (["train", "pixelcnn"], "unknown model 'pixelcnn'"),
    (["train", "gan", "--model.bogus", "3"],
     "Unrecognized options: --model.bogus, 3 (did you mean --model.loss?"),
    (["train", "vae", "--train.steps", "abc"], "Error parsing --train.steps"),
    (["train", "glow", "--data.dequantize", "False"], "needs dequantized inputs"),
    (["train", "glow", "--data.name", "ring8"], "needs images"),
    (["sample", "--workdir", "/nonexistent/run", "--temperature", "0"],
     "--temperature must be a finite number > 0"),
]

# Calls the CLI's entry point once per argument list (the cases of BAD_INPUT), each with its own
# stderr, and prints what each returned or raised: one interpreter start instead of one per case.
_RUN_EACH = """
import contextlib, io, json, sys, traceback
from gen_jax.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
        except BaseException:
            code = None
            traceback.print_exc()
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def bad_input_results(tmp_path_factory):
    """(exit code, stderr) of each case of BAD_INPUT, on 4 devices (one case is about those)."""
    import sys

    from .conftest import _run, _subprocess_env
    workdir = tmp_path_factory.mktemp("bad_input")
    argvs = [[*args, "--train.workdir", str(workdir / str(i))] if args[0] == "train" else args
             for i, (args, _) in enumerate(BAD_INPUT)]
    proc = _run([sys.executable, "-c", _RUN_EACH, json.dumps(argvs)], _subprocess_env(4, None),
                timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.xdist_group("cli_bad_input")  # one worker runs all the cases: one fixture run
@pytest.mark.parametrize("case", range(len(BAD_INPUT)),
                         ids=[message[:40] for _, message in BAD_INPUT])
def test_bad_input_gets_a_one_line_error(bad_input_results, case):
    message = BAD_INPUT[case][1]
    code, stderr = bad_input_results[case]
    assert code == 2 and "Traceback" not in stderr, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("gen-jax: error:") and message in last, stderr[-3000:]


def test_flow_train_sample_at_a_temperature_and_eval(tmp_path, capsys):
    """A flow dequantizes discrete data by default, reports bits/dim, samples at a temperature."""
    from gen_jax import cli

    assert cli.main(["train", "realnvp", "--data.batch-size", "64", "--train.steps", "40",
                     "--train.log-every", "20", "--train.eval-every", "40",
                     "--train.no-progress", "--model.hidden", "32", "--model.num-layers", "4",
                     "--train.workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    final = json.loads(out[out.index("{"):])
    assert final["num_examples"] == 297 and 0 < final["bpd"] < 4.09  # 4.09 = log2(17) uniform
    import numpy as np

    cold = tmp_path / "cold.npy"
    assert cli.main(["sample", "--workdir", str(tmp_path), "--num", "8", "--temperature", "0.5",
                     "--npy", str(cold)]) == 0
    assert (tmp_path / "samples_seed0_t0.5.png").is_file()
    samples = np.load(cold)
    assert samples.shape == (8, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 1

    # the report's NLL: another dequantization draw of the same 297 test images, so close to
    # the training run's final evaluation but not equal; bits/dim of the 17-level data
    assert cli.main(["eval", "--workdir", str(tmp_path), "--no-quality", "--seed", "3",
                     "--grid-size", "8"]) == 0
    report = json.loads((tmp_path / "eval_test.json").read_text())
    lik = report["likelihood"]
    assert lik["kind"] == "exact" and report["num_examples"] == 297
    assert lik["nll"] == pytest.approx(final["nll"], rel=0.02) and lik["nll"] != final["nll"]
    assert lik["bpd"] == pytest.approx(lik["nll"] / (64 * np.log(2)), rel=1e-6)


def test_diffusion_train_sample_with_a_sampler_and_eval_the_ode_likelihood(tmp_path, capsys):
    """Samplers chosen at sampling time; the ODE likelihood asked for at evaluation (a setting
    of the run's model that changes no parameter). Everything runs in this process."""
    from gen_jax import cli

    assert cli.main(["train", "diffusion", "--data.batch-size", "32", "--train.steps", "10",
                     "--train.log-every", "10",
                     "--train.no-progress", "--model.arch", "mlp", "--model.hidden", "32",
                     "--model.num-timesteps", "100", "--model.steps", "4",
                     "--model.divergence", "gaussian", "--model.ode-rtol", "1e-2",
                     "--model.ode-atol", "1e-2", "--train.workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    final = json.loads(out[out.index("{"):])
    assert final["vlb_bpd"] > 0 and "nll" not in final  # images: the ODE NLL is off by default
    import numpy as np

    capsys.readouterr()
    assert cli.main(["sample", "--workdir", str(tmp_path), "--num", "4", "--sampler", "heun",
                     "--steps", "3", "--npy", str(tmp_path / "h.npy")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["sampler"], record["steps"], record["nfe"]) == ("heun", 3, 5)
    samples = np.load(tmp_path / "h.npy")
    assert samples.shape == (4, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 1
    assert cli.main(["sample", "--workdir", str(tmp_path), "--sampler", "plms"]) == 2
    assert "unknown sampler 'plms'" in capsys.readouterr().err.splitlines()[-1]

    assert cli.main(["eval", "--workdir", str(tmp_path), "--likelihood", "ode",
                     "--num-examples", "8", "--no-quality", "--grid-size", "4", "--sampler",
                     "ddim", "--steps", "2"]) == 0
    report = json.loads((tmp_path / "eval_test.json").read_text())
    assert report["likelihood"]["kind"] == "exact" and report["likelihood"]["bpd"] > 0
    assert report["sampler"]["name"] == "ddim" and report["sampler"]["nfe"] == 2
    assert "--likelihood ode" in report["command"]


def test_autoencoder_shows_reconstructions_and_bad_values_get_one_line(tmp_path, capsys):
    from gen_jax import cli

    workdir = tmp_path / "ae"
    assert cli.main(["train", "ae", *SMALL, "--train.steps", "10", "--train.checkpoint-every",
                     "10", "--train.workdir", str(workdir)]) == 0
    capsys.readouterr()
    assert cli.main(["sample", "--workdir", str(workdir), "--num", "8", "--npy",
                     str(tmp_path / "r.npy")]) == 0
    said = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert said["content"] == ("ae has no prior: test examples, each followed by its "
                               "reconstruction")
    import numpy as np

    assert np.load(tmp_path / "r.npy").shape == (8, 8, 8, 1)  # 4 digits, each + reconstruction
    cases = [
        (["sample", "--workdir", workdir, "--num", "5"], "--num must be even (pairs), got 5"),
        (["sample", "--workdir", workdir, "--temperature", "nan"], "finite number > 0"),
        (["sample", "--workdir", workdir, "--npy", str(tmp_path / "x.txt")], ".npy file"),
        (["eval", "--workdir", workdir, "--quality"], "drop --quality"),
        (["eval", "--workdir", workdir, "--grid-size", "9"], "--grid-size must be even, got 9"),
        (["eval", "--workdir", workdir, "--num-samples", "3"], "at least 6"),
        (["eval", "--workdir", workdir, "--sampler", "ddim"], "this ae run has no sampler setting"),
    ]
    for argv, message in cases:
        code = cli.main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{}")
    assert cli.main(["eval", "--workdir", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "config.json is not a gen-jax run record" in err and len(err.strip().splitlines()) == 1


def test_an_application_adds_its_command_through_the_registry(monkeypatch, capsys):
    # No edit of the command line: a registered command is listed and dispatched to.
    from gen_jax import apps, cli

    seen = []
    monkeypatch.setattr(apps._registry, "COMMANDS", dict(apps.COMMANDS))  # restored after
    monkeypatch.setattr(cli, "COMMANDS", apps._registry.COMMANDS)
    monkeypatch.setitem(sys.modules, "_fake_app", type(sys)("_fake_app"))
    sys.modules["_fake_app"].main = lambda argv: seen.append(argv) or 7
    apps._registry.register_command(apps.Command("fake", "a fake application", "_fake_app:main"))
    assert cli.main(["fake", "--x", "1"]) == 7 and seen == [["--x", "1"]]
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "a fake application" in capsys.readouterr().out
    with pytest.raises(ValueError, match="already has a command named 'train'"):
        apps.register_command(apps.Command("train", "", "x:y"))


def test_version(capsys):
    import gen_jax
    from gen_jax import cli

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"gen-jax {gen_jax.__version__}\n"
