"""The second domains for translation: textured MNIST is MNIST over photo patches, built the
same everywhere with MNIST's labels; digits28 is the 8x8 digits centred at MNIST's size."""

import zipfile

import numpy as np
import pytest

from gen_jax import data
from gen_jax.data._domains import PHOTOS, read_photos, textured_mnist


@pytest.fixture(scope="module")
def photos():
    pytest.importorskip("skimage", reason="textured_mnist's photos come with scikit-image")
    return read_photos()


def test_textured_mnist_is_deterministic_with_mnist_labels(data_dir, photos):
    mnist = data.load("mnist", "test", data_dir=data_dir, size=40)
    textured = data.load("textured_mnist", "test", data_dir=data_dir, size=40)
    assert textured.x.shape == (40, 28, 28, 3) and textured.info.num_classes == 10
    np.testing.assert_array_equal(textured.label, mnist.label)
    np.testing.assert_array_equal(textured.x[:25], data.load(
        "textured_mnist", "test", data_dir=data_dir, size=25).x)  # a prefix is the same
    # image 7: the documented recipe, |patch - digit|, written out
    rng = np.random.default_rng([0, 1, 7])
    photo = photos[int(rng.integers(len(photos)))]
    top, left = int(rng.integers(photo.shape[0] - 27)), int(rng.integers(photo.shape[1] - 27))
    want = np.abs(photo[top:top + 28, left:left + 28].astype(int) - mnist.x[7].astype(int))
    np.testing.assert_array_equal(textured.x[7], want)
    train = textured_mnist(mnist.x[:5], photos, stream=0)
    assert not np.array_equal(train, textured.x[:5])  # train and test draw other patches


def test_photos_read_from_a_wheel_and_a_missing_source_says_how(photos, tmp_path,
                                                                 monkeypatch):
    import importlib.util
    from pathlib import Path

    folder = Path(importlib.util.find_spec("skimage").origin).parent / "data"
    wheel = tmp_path / "scikit_image-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name in PHOTOS:
            z.write(folder / name, f"skimage/data/{name}")
    for a, b in zip(read_photos(wheel), photos, strict=True):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setenv("GEN_JAX_PHOTOS", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataError, match="point GEN_JAX_PHOTOS at a scikit-image wheel"):
        read_photos()


def test_digits28_centres_the_digits_at_mnist_size(data_dir):
    small = data.load("digits", "train", data_dir=data_dir)
    big = data.load("digits28", "train", data_dir=data_dir)
    assert big.x.shape == (1500, 28, 28, 1) and big.info.num_levels == 256
    np.testing.assert_array_equal(big.label, small.label)
    border = np.ones((28, 28), bool)
    border[4:24, 4:24] = False
    assert big.x[:, border].max() == 0 and big.x.max() == 255
    # back down to 8x8, the digit is the original one
    from PIL import Image

    back = np.stack([np.asarray(Image.fromarray(img[4:24, 4:24, 0].astype(np.float32), "F")
                                .resize((8, 8), Image.Resampling.BOX)) for img in big.x[:50]])
    corr = np.corrcoef(back.ravel(), small.x[:50].ravel().astype(np.float32))[0, 1]
    assert corr > 0.95
