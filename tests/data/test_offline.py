"""Offline without the raw files: one line within seconds that says where to put them."""

from __future__ import annotations

import errno
import socket
import threading
import time

import pytest

from gen_jax import data
from gen_jax.data import DataError, _builders
from tests.conftest import run_cli


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_an_unreachable_host_is_reported_without_retries(monkeypatch, tmp_path):
    _no_network(monkeypatch)
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"cannot download mnist: storage.googleapis.com:443 is "
                                        r"unreachable \(Network is unreachable\); offline, put "
                                        r"t10k-images.* in a folder DIR/mnist/ and set "
                                        r"GEN_JAX_DATA_DIR=DIR"):
        data.load("mnist", "train", tfds_dir=tmp_path)
    assert time.perf_counter() - start < 10


def test_probe_answers_for_a_listening_host_a_silent_one_and_a_proxy(monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert _builders.reachable(f"http://127.0.0.1:{port}/x/") is None
    hang = threading.Event()

    def silent(*args, **kwargs):
        hang.wait(5)
        return socket.socket()

    monkeypatch.setattr(socket, "create_connection", silent)
    start = time.perf_counter()
    assert _builders.reachable("https://example.org/", timeout=0.2) == \
        "example.org:443 did not answer in 0.2 s"
    assert time.perf_counter() - start < 2
    hang.set()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert _builders.reachable("https://example.org/", timeout=0.2) is None  # the proxy decides


def test_the_command_line_fails_in_one_line_with_networking_disabled(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(
        "import errno, socket\n"
        "def _refuse(*a, **k):\n"
        "    raise OSError(errno.ENETUNREACH, 'Network is unreachable')\n"
        "socket.socket.connect = socket.create_connection = socket.getaddrinfo = _refuse\n")
    proc = run_cli(["train", "vae", "--data.name", "fashion_mnist", "--train.workdir",
                    tmp_path / "run", "--data.tfds-dir", tmp_path / "tfds"], check=False,
                   env={"PYTHONPATH": str(tmp_path), "GEN_JAX_DATA_DIR": ""})
    assert proc.returncode == 2
    notice, error = proc.stderr.strip().splitlines()  # no retries, no traceback
    assert notice.startswith("gen-jax: preparing fashion_mnist in ")
    assert error.startswith("gen-jax: error: cannot download fashion_mnist: ")
    assert "set GEN_JAX_DATA_DIR=DIR" in error
