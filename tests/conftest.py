"""Shared fixtures: where the real data sets live, and how to run the CLI in a subprocess."""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# One on-disk XLA compilation cache for the session, shared by the CLI subprocesses (which compile
# the same small programs again and again: a resume test runs one config three times) and this
# process (whose tests rebuild the same steps from new closures). It takes about 15% off the
# default run on a cold cache. Set JAX_COMPILATION_CACHE_DIR to keep one between sessions.
# (Programs that took over 0.3 s to compile are cached in the session's folder: caching every
# program, however small, cost more in writes than its hits saved (test_gan + test_vae: 181 s
# against 168-178 s; test_resume + test_cli: 175 s against 171 s at 0.3 s, 179 s at jax's
# default of 1 s; 2026-12-07). A folder of your own keeps jax's defaults.)
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="gen_jax_xla_cache_")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")

# The tests compile thousands of small programs and run most of them a few times: LLVM's
# optimization of the compiled code is a large part of their cost. Level 1 (of XLA:CPU's 0-3;
# the same HLO, a lighter LLVM pipeline) was the fastest measured: tests/models/test_gan.py,
# test_conformance.py, test_diffusion.py, test_flow_matching.py, evaluation/test_report.py and
# metrics/test_classifier.py took 252 s at level 1, 266 s at 0 (compiles fastest but runs the
# training tests slowest) and 270 s at the default, on 2 cores (2026-12-07). Float results can
# differ from the default build's in the last bits (a vectorized tanh is not the scalar one).
# The subprocesses the tests start inherit it; GEN_JAX_TEST_XLA_OPTIMIZE=1 tests the programs
# users run, compiled at the default level.
if os.environ.get("GEN_JAX_TEST_XLA_OPTIMIZE", "") in ("", "0") and \
        "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=1").strip()

# Feature classifiers trained on first use by `gen-jax eval` go to a folder of the session's, not
# to runs/classifiers in the repository (and a user's own classifiers stay out of the tests).
os.environ["GEN_JAX_CLASSIFIER_DIR"] = tempfile.mkdtemp(prefix="gen_jax_classifiers_")
atexit.register(shutil.rmtree, os.environ["GEN_JAX_CLASSIFIER_DIR"], ignore_errors=True)

import gen_jax  # noqa: E402, F401  (before any test uses jax: it sets XLA flags, see _xla_flags)
from gen_jax._xla_flags import with_host_device_count  # noqa: E402


def pytest_configure(config):
    # xdist's loadgroup tags each grouped test's node id; pytest 9.2 made node ids structured
    # and the tag no longer takes, so the groups below would be spread over workers silently.
    if config.pluginmanager.has_plugin("xdist") and config.getoption("numprocesses", None) \
            and config.getoption("dist", "no") == "loadgroup":
        import xdist

        xdist_version = tuple(int(v) for v in xdist.__version__.split(".")[:2])
        if pytest.version_tuple[:2] >= (9, 2) and xdist_version <= (3, 8):
            raise pytest.UsageError(
                f"pytest {pytest.__version__} with pytest-xdist {xdist.__version__} ignores "
                "xdist_group (pytest-xdist#1386): pip install 'pytest<9.2', or run with -n 0")


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups
def pytest_collection_modifyitems(items):
    # Multi-process runs pick a free port for JAX's coordinator (bind, then release): under
    # pytest-xdist two of them at once in different workers could be handed the same one, so
    # one worker runs them all (--dist loadgroup).
    for item in items:
        if item.get_closest_marker("multiprocess"):
            item.add_marker(pytest.mark.xdist_group("multiprocess"))


def _shared(variable: str, name: str) -> Path | None:
    """$VARIABLE, else ../shared/NAME beside the repository, else None."""
    env = os.environ.get(variable)
    path = Path(env) if env else REPO.parent / "shared" / name
    return path if path.is_dir() else None


def shared_data_dir() -> Path | None:
    """$GEN_JAX_DATA_DIR, else ../shared/data beside the repository, else None."""
    return _shared("GEN_JAX_DATA_DIR", "data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real data not found: set GEN_JAX_DATA_DIR or put shared/data beside the repo")
    return path


def shared_models_dir() -> Path | None:
    """$GEN_JAX_MODELS_DIR, else ../shared/models beside the repository, else None."""
    return _shared("GEN_JAX_MODELS_DIR", "models")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = shared_models_dir()
    if path is None:
        pytest.skip("reference weights not found: set GEN_JAX_MODELS_DIR or put shared/models "
                    "beside the repo")
    return path


@pytest.fixture(scope="session")
def inception_weights(models_dir, tmp_path_factory) -> Path:
    """The FID Inception weights of ../shared/models, converted once for the session."""
    from gen_jax import metrics

    out = tmp_path_factory.mktemp("inception") / "inception.npz"
    return metrics.convert_inception(models_dir / "inception_fid" / "default_1.pt", out)


def _subprocess_env(devices: int, env: dict | None) -> dict:
    full_env = dict(os.environ)
    full_env.pop("GEN_JAX_FAULT_KILL_AT_STEP", None)
    full_env.pop("GEN_JAX_FAULT_TERM_AT_STEP", None)
    full_env["XLA_FLAGS"] = with_host_device_count(os.environ.get("XLA_FLAGS", ""), devices)
    full_env["JAX_PLATFORMS"] = "cpu"
    full_env.update(env or {})
    return full_env


def _run(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """``subprocess.run`` in a new process group, all of which a timeout kills.

    ``gen-jax launch`` starts its workers in the launcher's group, so a hung multi-process run
    leaves no orphans behind (``subprocess.run`` would kill only the launcher).
    """
    with subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(cmd, timeout, out, err) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_cli(args, *, devices=1, env=None, timeout=600, check=True):
    """Runs ``python -m gen_jax ARGS`` with ``devices`` fake CPU devices; returns the process."""
    proc = _run([sys.executable, "-m", "gen_jax", *map(str, args)], _subprocess_env(devices, env),
                timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"gen-jax {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stderr[-4000:]}")
    return proc


def run_python(code: str, *, devices=1, timeout=600):
    """Runs ``python -c CODE`` from the repository root with ``devices`` fake CPU devices."""
    proc = _run([sys.executable, "-c", code], _subprocess_env(devices, None), timeout)
    if proc.returncode != 0:
        raise AssertionError(f"python -c exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


_PACKAGE = str(Path(gen_jax.__file__).parent)


def _from_gen_jax() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(_PACKAGE):
            return True
        frame = frame.f_back
    return False


@pytest.fixture(autouse=True, scope="session")
def _every_png_file_gen_jax_writes_carries_provenance():
    """In every test of this process, a PNG file written by gen_jax's code without the text
    chunks of :mod:`gen_jax.provenance` fails the test that wrote it (an in-memory PNG, such as
    the input-complexity correction's, is no file and is let through)."""
    from PIL import Image

    original = Image.Image.save

    def save(self, fp, format=None, **params):  # noqa: A002  (PIL's own parameter name)
        if isinstance(fp, str | os.PathLike) and (format or Path(fp).suffix.lstrip(".")).lower() \
                == "png" and _from_gen_jax():
            chunks = getattr(params.get("pnginfo"), "chunks", [])
            if not any(data.startswith(b"gen_jax:content\0") for _, data, *_ in chunks):
                raise AssertionError(f"gen_jax wrote {fp} without its provenance "
                                     "(write images with gen_jax.provenance.save_png)")
        return original(self, fp, format, **params)

    Image.Image.save = save
    yield
    Image.Image.save = original
