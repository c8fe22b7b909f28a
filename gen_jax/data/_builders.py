"""TFDS builders for the real datasets, written as ArrayRecord and read back without TensorFlow.

Each builder is a ``tfds.core.GeneratorBasedBuilder`` registered under a ``gen_jax_`` name (so it
never collides with TFDS's own ``mnist``, ``fashion_mnist`` or ``binarized_mnist``). Features are
plain ``tfds.features.Tensor``/``ClassLabel`` (``Image`` features need TensorFlow to encode), the
image tensor is stored as raw bytes, and examples keep the order of the raw files.

Where the files come from and go:

* ``GEN_JAX_DATA_DIR``: folder of raw files laid out as described in :mod:`gen_jax.data._raw`
  (an explicit ``raw_dir=`` wins). When neither is set the standard files are downloaded from the
  URLs TFDS's own builders use.
* ``GEN_JAX_TFDS_DIR``: where the prepared ArrayRecord files are written (an explicit
  ``tfds_dir=`` wins); unset, TFDS's default (``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).

A prepared dataset is reused as is: changing the raw folder afterwards does not rebuild it. Jobs
that prepare the same dataset in the same folder at once take turns (a file lock beside it): the
first builds it, the others then read what it built.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import socket
import sys
import threading
import urllib.parse
from typing import Any

import filelock
import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.proto import tf_example_pb2

from . import _raw
from ._errors import DataError

TFDS_DIR_ENV = "GEN_JAX_TFDS_DIR"

# The URLs of TFDS's own builders (tensorflow_datasets/image_classification/mnist.py,
# datasets/binarized_mnist/binarized_mnist_dataset_builder.py, TFDS 4.9.10).
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
BINARIZED_MNIST_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
# tensorflow_datasets/image_classification/cifar.py and datasets/svhn_cropped, TFDS 4.9.10.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/"
SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def resolve_tfds_dir(tfds_dir: str | os.PathLike | None) -> str | None:
    """Returns where prepared data lives: ``tfds_dir``, else ``$GEN_JAX_TFDS_DIR``, else None."""
    tfds_dir = tfds_dir or os.environ.get(TFDS_DIR_ENV) or None
    return None if tfds_dir is None else os.fspath(pathlib.Path(tfds_dir).expanduser())


def _image_features(shape: tuple[int, ...], num_classes: int | None) -> tfds.features.FeaturesDict:
    features: dict[str, Any] = {
        "image": tfds.features.Tensor(
            shape=shape, dtype=np.uint8, encoding=tfds.features.Encoding.BYTES
        )
    }
    if num_classes is not None:
        features["label"] = tfds.features.ClassLabel(num_classes=num_classes)
    return tfds.features.FeaturesDict(features)


def _dataset_info(builder, description: str, features: tfds.features.FeaturesDict,
                  homepage: str) -> tfds.core.DatasetInfo:
    """TFDS metadata in file order (no shuffling); supervised when there is a label."""
    return tfds.core.DatasetInfo(
        builder=builder, description=description, features=features,
        supervised_keys=("image", "label") if "label" in features else None,
        homepage=homepage, disable_shuffling=True)


def _labelled(images: np.ndarray, labels: np.ndarray):
    """``(index, {"image", "label"})`` pairs in order."""
    for i in range(len(images)):
        yield i, {"image": images[i], "label": int(labels[i])}


class _Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base for builders whose examples come from raw files in a folder or from the internet.

    Args:
      raw_dir: folder of raw files; defaults to ``$GEN_JAX_DATA_DIR``; when both are unset the
        files are downloaded.
      **kwargs: passed to ``tfds.core.GeneratorBasedBuilder`` (``data_dir``, ``file_format``...);
        ``file_format`` defaults to ``"array_record"``.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First gen_jax release: uint8 tensors stored as bytes, file order."}
    # No checksums file ships with gen_jax. Without this TFDS looks for one next to the module
    # through importlib resources, which fails when `gen_jax` is a namespace package.
    code_path = None

    def __init__(self, *, raw_dir: str | os.PathLike | None = None, **kwargs: Any):
        kwargs.setdefault("file_format", "array_record")
        self._raw_dir = _raw.resolve_raw_dir(raw_dir)
        super().__init__(**kwargs)
        self._original_state["raw_dir"] = raw_dir  # so that pickling round-trips

    def _log_download_bytes(self) -> None:  # TFDS prints a size line; prepare() says one
        pass

    def _log_download_done(self) -> None:
        pass

    def _fetch(
        self,
        dl_manager: tfds.download.DownloadManager,
        folder: str,
        url: str,
        files: dict[str, str],
    ) -> dict[str, pathlib.Path]:
        """Maps each key of ``files`` to a local path: in ``raw_dir/folder``, or downloaded."""
        if self._raw_dir is not None:
            return {k: _raw.raw_file(self._raw_dir, folder, f) for k, f in files.items()}
        offline = (f"; offline, put {', '.join(sorted(files.values()))} in a folder "
                   f"DIR/{folder}/ and set {_raw.DATA_DIR_ENV}=DIR (or pass data_dir)")
        problem = reachable(url)
        if problem is not None:
            raise DataError(f"cannot download {folder}: {problem}{offline}")
        try:
            paths = dl_manager.download({k: url + f for k, f in files.items()})
        except Exception as e:  # noqa: BLE001 -- TFDS and requests raise many kinds
            raise DataError(f"downloading {folder} from {url} failed ({type(e).__name__}: "
                            f"{' '.join(str(e).split())[:200]}){offline}") from e
        return {k: pathlib.Path(p) for k, p in paths.items()}


PROBE_SECONDS = 5.0
"""How long a download waits to learn whether the host answers at all."""


def reachable(url: str, timeout: float = PROBE_SECONDS) -> str | None:
    """None when a TCP connection to ``url``'s host opens within ``timeout`` seconds, else what
    went wrong (one phrase). Behind a proxy (``*_proxy`` set) the proxy decides: None.

    TFDS retries an unreachable host for minutes; this answers in seconds.
    """
    if any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "http_proxy",
                                       "HTTP_PROXY", "all_proxy", "ALL_PROXY")):
        return None
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as e:
            outcome.append(f"{host}:{port} is unreachable ({e.strerror or e})")

    thread = threading.Thread(target=probe, daemon=True)  # a name lookup has no timeout
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"{host}:{port} did not answer in {timeout:g} s"


class _IdxBuilder(_Builder, skip_registration=True):
    """Base for MNIST-style builders reading idx gzip files."""

    FOLDER: str
    URL: str

    def _split_generators(self, dl_manager):
        """Returns the train and test example generators, from local or downloaded idx files."""
        files = {}
        for split, (images, labels) in _raw.IDX_FILES.items():
            files[f"{split}_images"], files[f"{split}_labels"] = images, labels
        paths = self._fetch(dl_manager, self.FOLDER, self.URL, files)
        return {
            split: self._generate_examples(paths[f"{split}_images"], paths[f"{split}_labels"])
            for split in _raw.IDX_FILES
        }

    def _generate_examples(self, images_path, labels_path):
        """Yields ``(index, example)`` in file order."""
        images, labels = _raw.read_idx_split(images_path, labels_path)
        yield from _labelled(images, labels)


class GenJaxMnist(_IdxBuilder):
    """MNIST (LeCun, Cortes and Burges): 60,000 train and 10,000 test 28x28 grey digits."""

    name = "gen_jax_mnist"
    FOLDER = "mnist"
    URL = MNIST_URL

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the TFDS metadata: features, homepage, and no shuffling (file order)."""
        return _dataset_info(
            self, "MNIST handwritten digits, uint8 [28, 28, 1], in raw-file order.",
            _image_features((28, 28, 1), 10), "http://yann.lecun.com/exdb/mnist/")


class GenJaxFashionMnist(_IdxBuilder):
    """Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 60,000 train and 10,000 test 28x28 images."""

    name = "gen_jax_fashion_mnist"
    FOLDER = "fashion_mnist"
    URL = FASHION_MNIST_URL

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the TFDS metadata: features, homepage, and no shuffling (file order)."""
        return _dataset_info(
            self, "Fashion-MNIST, uint8 [28, 28, 1], in the order of the raw files.",
            tfds.features.FeaturesDict({
                "image": _image_features((28, 28, 1), None)["image"],
                "label": tfds.features.ClassLabel(names=FASHION_MNIST_CLASSES),
            }),
            "https://github.com/zalandoresearch/fashion-mnist")


class GenJaxBinarizedMnist(_Builder):
    """Statically binarized MNIST, Larochelle and Murray's (2011) 50,000 / 10,000 / 10,000 split."""

    name = "gen_jax_binarized_mnist"

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the TFDS metadata: features, homepage, and no shuffling (file order)."""
        return _dataset_info(
            self, "Binarized MNIST, uint8 {0, 1} [28, 28, 1], no labels, file order.",
            _image_features((28, 28, 1), None),
            "http://www.dmi.usherb.ca/~larocheh/mlpython/_modules/datasets/binarized_mnist.html")

    def _split_generators(self, dl_manager):
        """Returns the train, validation and test generators, from local or downloaded files."""
        paths = self._fetch(dl_manager, "binarized_mnist", BINARIZED_MNIST_URL, _raw.AMAT_FILES)
        return {split: self._generate_examples(paths[split]) for split in _raw.AMAT_FILES}

    def _generate_examples(self, path):
        """Yields ``(index, example)`` in file order."""
        images = _raw.read_amat(path)
        for i in range(len(images)):
            yield i, {"image": images[i]}


class GenJaxDigits(_Builder):
    """scikit-learn's 8x8 digits (values 0..16), split 1,500 train / 297 test with a fixed seed.

    The data ship with scikit-learn: ``raw_dir`` is accepted but never read, nothing is downloaded.
    """

    name = "gen_jax_digits"

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the TFDS metadata: features, homepage, and no shuffling (file order)."""
        return _dataset_info(
            self, "UCI optical handwritten digits, uint8 [8, 8, 1] in 0..16.",
            _image_features((8, 8, 1), 10),
            "https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html")

    def _split_generators(self, dl_manager):
        """Returns the train and test generators; nothing is downloaded."""
        del dl_manager
        return {split: self._generate_examples(split) for split in ("train", "test")}

    def _generate_examples(self, split):
        """Yields ``(index, example)`` in the fixed split order of :func:`_raw.read_digits`."""
        images, labels = _raw.read_digits(split)
        yield from _labelled(images, labels)


class GenJaxCifar10(_Builder):
    """CIFAR-10 (Krizhevsky 2009): 50,000 train and 10,000 test 32x32 colour images, 10 classes,
    from the official binary version (no pickle)."""

    name = "gen_jax_cifar10"

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the TFDS metadata: features, homepage, and no shuffling (file order)."""
        return _dataset_info(
            self, "CIFAR-10, uint8 [32, 32, 3], in the order of the binary batches.",
            tfds.features.FeaturesDict({
                "image": _image_features((32, 32, 3), None)["image"],
                "label": tfds.features.ClassLabel(names=_raw.CIFAR10_CLASSES),
            }),
            "https://www.cs.toronto.edu/~kriz/cifar.html")

    def _split_generators(self, dl_manager):
        """Returns the train and test generators, read from one local or downloaded tarball."""
        path = self._fetch(dl_manager, "cifar10", CIFAR10_URL, {"tar": _raw.CIFAR10_FILE})["tar"]
        splits = _raw.read_cifar10(path)
        return {split: self._generate_examples(*arrays) for split, arrays in splits.items()}

    def _generate_examples(self, images, labels):
        """Yields ``(index, example)`` in file order."""
        yield from _labelled(images, labels)


class GenJaxSvhn(_Builder):
    """SVHN cropped digits (Netzer et al. 2011): 73,257 train and 26,032 test 32x32 colour
    images; label 0..9 is the digit (the files' 10 is 0). The ``extra`` split is not read."""

    name = "gen_jax_svhn"

    def _info(self) -> tfds.core.DatasetInfo:
        """Returns the TFDS metadata: features, homepage, and no shuffling (file order)."""
        return _dataset_info(
            self, "SVHN cropped digits, uint8 [32, 32, 3], in file order.",
            _image_features((32, 32, 3), 10), "http://ufldl.stanford.edu/housenumbers/")

    def _split_generators(self, dl_manager):
        """Returns the train and test generators, from local or downloaded .mat files."""
        paths = self._fetch(dl_manager, "svhn", SVHN_URL, _raw.SVHN_FILES)
        return {split: self._generate_examples(paths[split]) for split in _raw.SVHN_FILES}

    def _generate_examples(self, path):
        """Yields ``(index, example)`` in file order."""
        images, labels = _raw.read_svhn(path)
        yield from _labelled(images, labels)


BUILDERS: dict[str, type[tfds.core.GeneratorBasedBuilder]] = {
    "mnist": GenJaxMnist,
    "fashion_mnist": GenJaxFashionMnist,
    "binarized_mnist": GenJaxBinarizedMnist,
    "digits": GenJaxDigits,
    "cifar10": GenJaxCifar10,
    "svhn": GenJaxSvhn,
}


def prepare(
    name: str,
    *,
    raw_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
) -> tfds.core.GeneratorBasedBuilder:
    """Returns the builder of dataset ``name``, preparing its ArrayRecord files if needed.

    Args:
      name: a key of :data:`BUILDERS`, e.g. ``"mnist"``.
      raw_dir: folder of raw files (default ``$GEN_JAX_DATA_DIR``; unset: download).
      tfds_dir: where prepared files live (default ``$GEN_JAX_TFDS_DIR``, else TFDS's default).

    Returns:
      A prepared builder; read it with :func:`read_split`.
    """
    data_dir = resolve_tfds_dir(tfds_dir)

    def make() -> tfds.core.GeneratorBasedBuilder:
        # A builder reads the prepared dataset's info (its splits) when it is made, so one made
        # before another job finished preparing cannot read that job's files: make a new one.
        return BUILDERS[name](raw_dir=raw_dir, data_dir=data_dir)

    with _quiet():
        builder = make()
        if not builder.is_prepared():  # prepared: no lock needed (the folder may be read-only)
            _prepare_locked(make, name)
        return make()


def _prepare_locked(make, what: str) -> None:
    """Prepares under a file lock, saying once where; does nothing if another job did it."""
    # TFDS builds into a temporary folder and renames it into place; a second job doing the
    # same at once fails at the rename. The lock file lives beside the version folders.
    builder = make()
    lock = pathlib.Path(builder.data_dir).parent / f"{builder.name}.prepare.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(lock):
        builder = make()
        if not builder.is_prepared():
            print(f"gen-jax: preparing {what} in {builder.data_dir} (once; later runs read it "
                  "from there)", file=sys.stderr, flush=True)
            builder.download_and_prepare()


@contextlib.contextmanager
def _quiet():
    """Silences TFDS's progress bars and absl's notices while a builder is made or prepared."""
    from absl import logging as absl_logging  # noqa: PLC0415
    from tensorflow_datasets.core.utils import tqdm_utils  # noqa: PLC0415

    verbosity, bars = absl_logging.get_verbosity(), tqdm_utils._active
    absl_logging.set_verbosity(absl_logging.ERROR)
    tfds.display_progress_bar(False)
    try:
        yield
    finally:
        absl_logging.set_verbosity(verbosity)
        tfds.display_progress_bar(bars)


def read_split(
    builder: tfds.core.DatasetBuilder, split: str, size: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Reads the first ``size`` examples of a prepared split into numpy, without TensorFlow.

    Fetches all records with one batched ``__getitems__`` as raw bytes and parses the
    ``tf.train.Example`` protos directly (about 2.5x faster than TFDS's per-example decoding); falls
    back to TFDS's decoding if the stored layout is not the expected one.

    Args:
      builder: a prepared builder from :func:`prepare`.
      split: split name.
      size: number of leading examples to read; all when None.

    Returns:
      ``(images, labels)``: ``[N, *shape]`` in the stored dtype (read-only: it views the
      bytes read) and ``int32 [N]`` (None when unlabelled).
    """
    features = builder.info.features
    key = "image" if "image" in features else "x"
    shape, dtype = tuple(features[key].shape), np.dtype(features[key].np_dtype)
    has_label = "label" in features
    raw = builder.as_data_source(
        split=split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES
    )
    n = len(raw) if size is None else min(size, len(raw))
    records = raw.__getitems__(range(n))
    try:
        images, labels = _parse_examples(records, key, shape, dtype, has_label)
        reference = builder.as_data_source(split=split)[0] if n else None
        if reference is not None and not (
            np.array_equal(reference[key], images[0])
            and (not has_label or int(reference["label"]) == labels[0])
        ):
            raise ValueError("fast parse disagrees with TFDS decoding")
    except (KeyError, IndexError, ValueError):
        decoded = builder.as_data_source(split=split).__getitems__(range(n))
        images = np.stack([d[key] for d in decoded]).reshape(n, *shape)
        labels = np.array([d["label"] for d in decoded], np.int32) if has_label else None
    return images, labels


def _parse_examples(
    records: list[bytes], key: str, shape: tuple[int, ...], dtype: np.dtype, has_label: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Parses serialized examples holding a bytes tensor ``key`` and an int64 ``label``."""
    feats = [tf_example_pb2.Example.FromString(r).features.feature for r in records]
    images = np.frombuffer(b"".join(f[key].bytes_list.value[0] for f in feats), dtype)
    images = images.reshape(len(feats), *shape)
    labels = None
    if has_label:
        labels = np.fromiter((f["label"].int64_list.value[0] for f in feats), np.int64, len(feats))
        labels = labels.astype(np.int32)
    return images, labels


# -- a user's own data ---------------------------------------------------------------------------

OWN_NAME = "gen_jax_own_data"


class GenJaxOwnData(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A user's own data set: one builder config per source fingerprint
    (:mod:`gen_jax.data._own`). ``record`` describes the features (kind, shape, classes);
    ``scan`` supplies the examples when preparing."""

    name = OWN_NAME
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: x as raw bytes (uint8 images or float32), labels."}
    code_path = None

    def __init__(self, *, record: dict[str, Any], scan: Any = None, **kwargs: Any):
        kwargs.setdefault("file_format", "array_record")
        self._record, self._scan = record, scan
        super().__init__(**kwargs)
        self._original_state.update(record=record, scan=None)

    def _log_download_bytes(self) -> None:
        pass

    def _log_download_done(self) -> None:
        pass

    def _info(self) -> tfds.core.DatasetInfo:
        """Features from the record: ``x`` (uint8 or float32 bytes) and an optional label."""
        record = self._record
        dtype = np.uint8 if record["num_levels"] is not None else np.float32
        features: dict[str, Any] = {"x": tfds.features.Tensor(
            shape=tuple(record["shape"]), dtype=dtype, encoding=tfds.features.Encoding.BYTES)}
        if record["class_names"]:
            features["label"] = tfds.features.ClassLabel(num_classes=len(record["class_names"]))
        return tfds.core.DatasetInfo(
            builder=self, description=f"gen_jax own data from {record['source']}",
            features=tfds.features.FeaturesDict(features), disable_shuffling=True)

    def _split_generators(self, dl_manager):
        """One generator per split of the scan."""
        del dl_manager
        return {split: self._generate_examples(split) for split in self._scan.splits}

    def _generate_examples(self, split):
        """Yields ``(index, example)`` in source order; image files are decoded here."""
        from . import _own_read  # noqa: PLC0415

        x, label = self._scan.splits[split]
        for i in range(len(x)):
            value = (_own_read.read_image(x[i], tuple(self._record["shape"]))
                     if self._scan.kind == "images" else x[i])
            example = {"x": value}
            if label is not None:
                example["label"] = int(label[i])
            yield i, example


def own_prepared_dir(config: str, tfds_dir: str | os.PathLike | None) -> str:
    """The version folder of own data set ``config``."""
    root = resolve_tfds_dir(tfds_dir) or tfds.core.constants.DATA_DIR
    return os.fspath(pathlib.Path(root).expanduser() / OWN_NAME / config
                     / str(GenJaxOwnData.VERSION))


def own_prepared_record(config: str, tfds_dir: str | os.PathLike | None) -> dict | None:
    """The description saved beside a prepared own data set, or None when not prepared."""
    path = pathlib.Path(own_prepared_dir(config, tfds_dir)) / "source.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def prepare_own(config: str, scan: Any, record: dict[str, Any],
                tfds_dir: str | os.PathLike | None, what: str) -> None:
    """Prepares own data set ``config`` from ``scan`` and saves ``record`` beside it (last:
    its presence means the folder is whole)."""
    from .._files import write_atomic  # noqa: PLC0415

    root = resolve_tfds_dir(tfds_dir)

    def make() -> GenJaxOwnData:
        return GenJaxOwnData(record=record, scan=scan, data_dir=root,
                             config=tfds.core.BuilderConfig(name=config))

    with _quiet():
        _prepare_locked(make, what)
    write_atomic(pathlib.Path(own_prepared_dir(config, tfds_dir)) / "source.json",
                 json.dumps(record, indent=1))


def read_prepared(prepared_dir: str, split: str,
                  size: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Reads a split of a prepared own data set (its version folder)."""
    folder = pathlib.Path(prepared_dir)
    record = json.loads((folder / "source.json").read_text())
    with _quiet():
        builder = GenJaxOwnData(record=record, data_dir=os.fspath(folder.parents[2]),
                                config=tfds.core.BuilderConfig(name=folder.parent.name))
    return read_split(builder, split, size)
