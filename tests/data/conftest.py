"""Data-test fixtures: the shared raw-data folder, one TFDS folder per session, no downloads."""

from __future__ import annotations

import os
import pathlib

import pytest
import tensorflow_datasets as tfds

from gen_jax import data

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
_ENV_RAW_DIR = os.environ.get("GEN_JAX_DATA_DIR")  # read before any test clears the variable


@pytest.fixture(autouse=True, scope="session")
def _no_downloads():
    """Makes any attempt to download fail loudly: tests read local files only."""

    def refuse(self, url_or_urls, *args, **kwargs):
        raise RuntimeError(f"tests must not download, but asked for {url_or_urls}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tfds.download.DownloadManager, "download", refuse)
        mp.setattr(tfds.download.DownloadManager, "download_and_extract", refuse)
        yield


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch):
    """Keeps the user's environment out of the tests: every test passes its folders explicitly."""
    monkeypatch.delenv("GEN_JAX_DATA_DIR", raising=False)
    monkeypatch.delenv("GEN_JAX_TFDS_DIR", raising=False)


@pytest.fixture(scope="session")
def raw_dir() -> pathlib.Path:
    """The raw-data folder: ``$GEN_JAX_DATA_DIR`` if set, else ``<repo root>/../shared/data``."""
    path = pathlib.Path(_ENV_RAW_DIR) if _ENV_RAW_DIR else REPO_ROOT.parent / "shared" / "data"
    if not (path / "mnist").is_dir():
        pytest.skip(
            f"no raw data at {path}: set GEN_JAX_DATA_DIR to a folder with mnist/, fashion_mnist/ "
            "and binarized_mnist/"
        )
    return path


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> pathlib.Path:
    """One folder of prepared TFDS files for the whole session, shared by its xdist workers (they
    take turns preparing a dataset: see ``_builders.prepare``)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.mktemp("tfds")
    path = tmp_path_factory.getbasetemp().parent / "tfds"  # the session's, above each worker's
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def load_real(raw_dir, tfds_dir):
    """``load`` bound to the shared raw folder and the session's TFDS folder; memoized.

    Tests must not modify the returned arrays.
    """
    cache = {}

    def load(name: str, split: str, size: int | None = None) -> data.ArrayDataset:
        if (name, split, size) not in cache:
            cache[name, split, size] = data.load(
                name, split, data_dir=raw_dir, tfds_dir=tfds_dir, size=size
            )
        return cache[name, split, size]

    return load
