"""TFDS builders: what is written and read back equals the raw files; offline and online paths."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from gen_jax.data import _builders, _raw

from ..conftest import REPO
from ._fakes import write_fake_mnist


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_dataset_round_trips_through_tfds(load_real, raw_dir, name, split):
    ds = load_real(name, split)
    images, labels = _raw.read_idx_split(*(raw_dir / name / f for f in _raw.IDX_FILES[split]))
    np.testing.assert_array_equal(ds.x, images)  # also checks that the file order is kept
    np.testing.assert_array_equal(ds.label, labels)


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_binarized_mnist_round_trips_through_tfds(load_real, raw_dir, split):
    ds = load_real("binarized_mnist", split)
    np.testing.assert_array_equal(
        ds.x, _raw.read_amat(raw_dir / "binarized_mnist" / _raw.AMAT_FILES[split])
    )
    assert ds.label is None


def test_fast_read_agrees_with_tfds_decoding(load_real, raw_dir, tfds_dir):
    load_real("mnist", "test")  # makes sure it is prepared
    builder = _builders.prepare("mnist", raw_dir=raw_dir, tfds_dir=tfds_dir)
    images, labels = _builders.read_split(builder, "test")
    source = builder.as_data_source(split="test")
    for i in np.random.default_rng(0).choice(len(source), 25, replace=False):
        example = source[int(i)]
        np.testing.assert_array_equal(example["image"], images[i])
        assert example["label"] == labels[i]


def test_builders_do_not_collide_with_tfds_names():
    ours = {cls.name for cls in _builders.BUILDERS.values()}
    assert ours == {
        "gen_jax_mnist",
        "gen_jax_fashion_mnist",
        "gen_jax_binarized_mnist",
        "gen_jax_digits",
        "gen_jax_cifar10",
        "gen_jax_svhn",
    }
    for name in ours:
        assert tfds.builder_cls(name) in _builders.BUILDERS.values()
    assert tfds.builder_cls("mnist") is not _builders.GenJaxMnist


def test_builder_writes_array_record_in_file_order(tmp_path):
    arrays = write_fake_mnist(tmp_path / "raw" / "mnist", n_train=12, n_test=5)
    builder = _builders.prepare("mnist", raw_dir=tmp_path / "raw", tfds_dir=tmp_path / "tfds")
    assert builder.info.file_format.value == "array_record"
    assert list((tmp_path / "tfds" / "gen_jax_mnist").glob("*/*.array_record-*"))
    images, labels = _builders.read_split(builder, "train")
    np.testing.assert_array_equal(images[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(labels, arrays["train"][1])
    head, _ = _builders.read_split(builder, "test", size=2)
    np.testing.assert_array_equal(head[..., 0], arrays["test"][0][:2])


def test_jobs_preparing_one_dataset_at_once_take_turns(tmp_path):
    """Several processes prepare the same fresh folder at the same moment (a sweep's first runs):
    without the lock all but one fail at TFDS's final rename; with it all read the same data."""
    arrays = write_fake_mnist(tmp_path / "raw" / "mnist", n_train=300, n_test=5)
    ready = tmp_path / "ready"
    ready.mkdir()
    code = ("import sys, time\n"
            "from gen_jax.data import _builders\n"
            f"ready = __import__('pathlib').Path({str(ready)!r})\n"
            "(ready / sys.argv[1]).touch()\n"
            "deadline = time.time() + 120\n"
            "while len(list(ready.iterdir())) < 3:  # all have imported TFDS: go together\n"
            "    if time.time() > deadline:\n"
            "        sys.exit('the other processes never got ready')\n"
            "    time.sleep(0.01)\n"
            f"b = _builders.prepare('mnist', raw_dir={str(tmp_path / 'raw')!r}, "
            f"tfds_dir={str(tmp_path / 'tfds')!r})\n"
            "x, y = _builders.read_split(b, 'train')\n"
            "print(int(x.sum()), int(y.sum()))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        sums = out.splitlines()[-1].split()  # TFDS prints its progress before
        assert sums == [str(int(arrays["train"][0].sum())), str(int(arrays["train"][1].sum()))]


def test_a_dataset_another_job_prepared_meanwhile_is_read_from_its_files(tmp_path, monkeypatch):
    """Another job finishes preparing between this job's look at the folder and its check: the
    builder returned must read that job's files (a builder made earlier has no splits)."""
    arrays = write_fake_mnist(tmp_path / "raw" / "mnist", n_train=12, n_test=5)
    folders = {"raw_dir": tmp_path / "raw", "tfds_dir": tmp_path / "tfds"}
    cls = _builders.BUILDERS["mnist"]
    is_prepared = cls.is_prepared

    def another_job_finishes_first(self):
        monkeypatch.setattr(cls, "is_prepared", is_prepared)
        _builders.prepare("mnist", **folders)  # the other job
        return is_prepared(self)

    monkeypatch.setattr(cls, "is_prepared", another_job_finishes_first)
    images, labels = _builders.read_split(_builders.prepare("mnist", **folders), "train")
    np.testing.assert_array_equal(images[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(labels, arrays["train"][1])


def test_online_path_downloads_the_tfds_urls(tmp_path, monkeypatch):
    """Without a raw folder the builder asks TFDS's download manager for the standard URLs."""
    arrays = write_fake_mnist(tmp_path / "served", n_train=6, n_test=4)
    requested = {}

    def fake_download(self, url_or_urls):
        requested.update(url_or_urls)
        return {k: tmp_path / "served" / url.rsplit("/", 1)[1] for k, url in url_or_urls.items()}

    monkeypatch.setattr(tfds.download.DownloadManager, "download", fake_download)
    monkeypatch.setattr(_builders, "reachable", lambda url: None)  # no network in tests
    builder = _builders.prepare("fashion_mnist", raw_dir=None, tfds_dir=tmp_path / "tfds")
    assert sorted(requested.values()) == sorted(
        _builders.FASHION_MNIST_URL + f for pair in _raw.IDX_FILES.values() for f in pair
    )
    images, labels = _builders.read_split(builder, "test")
    np.testing.assert_array_equal(images[..., 0], arrays["test"][0])
    np.testing.assert_array_equal(labels, arrays["test"][1])


def test_download_urls_are_the_ones_tfds_uses():
    from tensorflow_datasets.datasets.binarized_mnist import binarized_mnist_dataset_builder as bm
    from tensorflow_datasets.image_classification import mnist

    assert _builders.MNIST_URL == mnist.MNIST.URL
    assert _builders.FASHION_MNIST_URL == mnist.FashionMNIST.URL
    assert _builders.BINARIZED_MNIST_URL == bm._URL


def test_tfds_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GEN_JAX_TFDS_DIR", str(tmp_path / "from_env"))
    assert _builders.resolve_tfds_dir(None) == str(tmp_path / "from_env")
    assert _builders.resolve_tfds_dir(tmp_path / "arg") == str(tmp_path / "arg")
    _builders.prepare("digits")
    assert (tmp_path / "from_env" / "gen_jax_digits").is_dir()


def test_raw_dir_from_environment(monkeypatch, tmp_path):
    arrays = write_fake_mnist(tmp_path / "raw" / "mnist", n_train=3, n_test=2)
    monkeypatch.setenv("GEN_JAX_DATA_DIR", str(tmp_path / "raw"))
    builder = _builders.prepare("mnist", tfds_dir=tmp_path / "tfds")
    np.testing.assert_array_equal(_builders.read_split(builder, "test")[1], arrays["test"][1])
