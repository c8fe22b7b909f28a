"""CIFAR-10 and SVHN from their standard files, on small files written in the same formats."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds

from gen_jax.data import DataError, _builders, _raw

from ._fakes import cifar_records, write_fake_cifar10, write_fake_svhn


def test_cifar10_reads_the_binary_batches_in_file_order(tmp_path):
    arrays = write_fake_cifar10(tmp_path / "cifar10", n_per_batch=3, n_test=4)
    splits = _raw.read_cifar10(tmp_path / "cifar10" / _raw.CIFAR10_FILE)
    for split in ("train", "test"):
        np.testing.assert_array_equal(splits[split][0], arrays[split][0])
        np.testing.assert_array_equal(splits[split][1], arrays[split][1])
    assert splits["train"][0].shape == (15, 32, 32, 3) and splits["train"][1].dtype == np.int32


@pytest.mark.parametrize("members, match", [
    ({"cifar-10-batches-bin/test_batch.bin": None}, r"no member cifar-10-batches-bin/test_batch"),
    ({"cifar-10-batches-bin/data_batch_2.bin": b"\x01" * 3074},
     r"cifar-10-batches-bin/data_batch_2.bin has 3074 bytes, not a whole number of "
     r"3073-byte records"),
    ({"cifar-10-batches-bin/test_batch.bin":
      cifar_records(np.zeros((1, 32, 32, 3), np.uint8), np.array([12]))},
     r"label 12 outside \[0, 10\) in the test records"),
])
def test_cifar10_corrupt_files_name_the_problem(tmp_path, members, match):
    write_fake_cifar10(tmp_path / "cifar10", members=members)
    with pytest.raises(DataError, match="corrupt raw file .*cifar-10-binary.tar.gz: " + match):
        _raw.read_cifar10(tmp_path / "cifar10" / _raw.CIFAR10_FILE)


def test_cifar10_not_a_tarball(tmp_path):
    (tmp_path / "c.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot read it as a gzip tar"):
        _raw.read_cifar10(tmp_path / "c.tar.gz")


def test_svhn_reads_the_mat_files_with_10_as_zero(tmp_path):
    arrays = write_fake_svhn(tmp_path / "svhn")
    for split in ("train", "test"):
        images, labels = _raw.read_svhn(tmp_path / "svhn" / _raw.SVHN_FILES[split])
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][1])
        assert labels[0] == 0 and labels.max() <= 9


@pytest.mark.parametrize("content, match", [
    ({"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[1], [0]])}, r"label 0 outside"),
    ({"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.array([[1], [2]])}, r"X of shape"),
    ({"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[1]])}, r"1 labels for 2 images"),
    ({"images": np.zeros((2, 2))}, r"expected arrays 'X' and 'y', found \['images'\]"),
])
def test_svhn_corrupt_files_name_the_problem(tmp_path, content, match):
    scipy.io.savemat(tmp_path / "train_32x32.mat", content)
    with pytest.raises(DataError, match="corrupt raw file .*train_32x32.mat: " + match):
        _raw.read_svhn(tmp_path / "train_32x32.mat")


@pytest.mark.parametrize("name, write", [("cifar10", write_fake_cifar10),
                                         ("svhn", write_fake_svhn)])
def test_builders_prepare_from_the_raw_folder(tmp_path, name, write):
    arrays = write(tmp_path / "raw" / name)
    builder = _builders.prepare(name, raw_dir=tmp_path / "raw", tfds_dir=tmp_path / "tfds")
    for split in ("train", "test"):
        images, labels = _builders.read_split(builder, split)
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][1])


def test_builders_download_the_urls_tfds_uses(tmp_path, monkeypatch):
    from tensorflow_datasets.datasets.svhn_cropped import svhn_cropped_dataset_builder as svhn
    from tensorflow_datasets.image_classification import cifar

    write_fake_cifar10(tmp_path / "served")
    write_fake_svhn(tmp_path / "served")
    requested = []

    def fake_download(self, url_or_urls):
        requested.extend(url_or_urls.values())
        return {k: tmp_path / "served" / u.rsplit("/", 1)[1] for k, u in url_or_urls.items()}

    monkeypatch.setattr(tfds.download.DownloadManager, "download", fake_download)
    monkeypatch.setattr(_builders, "reachable", lambda url: None)  # no network in tests
    _builders.prepare("cifar10", raw_dir=None, tfds_dir=tmp_path / "tfds")
    _builders.prepare("svhn", raw_dir=None, tfds_dir=tmp_path / "tfds")
    cifar_url = cifar.Cifar10(data_dir=str(tmp_path / "unused"))._cifar_info.url
    assert requested == [cifar_url, svhn.URL + "train_32x32.mat", svhn.URL + "test_32x32.mat"]
