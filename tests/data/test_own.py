"""A user's own data: image folders, arrays and tables, prepared once, with one-line errors."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest
from PIL import Image

from gen_jax import data
from gen_jax.data import DataError, OwnOptions


def _png(path: pathlib.Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _open(path, tfds, **options):
    return data.open_own(path, OwnOptions(**options), tfds_dir=tfds)


def _both(own):
    return data.load_own(own, "train"), data.load_own(own, "test")


def test_image_folder_labels_from_class_folders_and_crops_the_middle(tmp_path):
    # 8 tall, 16 wide, each column its own value: resizing the shorter side to 8 keeps the
    # pixels, and the center crop keeps columns 4..11.
    wide = np.tile(np.arange(16, dtype=np.uint8) * 10, (8, 1))
    for i in range(5):
        _png(tmp_path / "imgs" / "zebra" / f"{i}.png", wide)
        _png(tmp_path / "imgs" / "ant" / f"{i}.png", np.full((8, 8), 200, np.uint8))
    own = _open(tmp_path / "imgs", tmp_path / "tfds", image_size=8)
    assert own.class_names == ("ant", "zebra")
    assert own.info.shape == (8, 8, 1) and own.info.num_levels == 256
    assert own.info.splits == {"train": 9, "test": 1}
    train, test = _both(own)
    x = np.concatenate([train.x, test.x])
    label = np.concatenate([train.label, test.label])
    assert np.bincount(label).tolist() == [5, 5]
    np.testing.assert_array_equal(x[label == 1][0, ..., 0], wide[:, 4:12])
    assert (x[label == 0] == 200).all()


def test_image_folder_is_colour_when_any_image_is_and_resizes_larger_ones(tmp_path):
    _png(tmp_path / "a.png", np.zeros((6, 6), np.uint8))
    _png(tmp_path / "b.png", np.zeros((12, 12, 3), np.uint8) + np.array([255, 0, 0], np.uint8))
    _png(tmp_path / "c.png", np.zeros((6, 6), np.uint8))
    own = _open(tmp_path, tmp_path.parent / f"{tmp_path.name}-tfds", image_size=6)
    assert own.info.shape == (6, 6, 3) and own.class_names == ()
    train, test = _both(own)
    x = np.concatenate([train.x, test.x])
    red = [im for im in x if im[..., 0].mean() > 0]
    assert len(red) == 1 and (red[0] == [255, 0, 0]).all()  # a solid colour survives resizing
    assert train.label is None


def test_image_folder_train_and_test_folders_are_the_splits(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for c in ("a", "b"):
            for i in range(n):
                _png(tmp_path / "d" / split / c / f"{i}.bmp", np.full((4, 4), i, np.uint8))
    own = _open(tmp_path / "d", tmp_path / "tfds")
    assert own.info.splits == {"train": 6, "test": 4}
    assert data.load_own(own, "test").label.tolist() == [0, 0, 1, 1]
    _png(tmp_path / "d" / "test" / "c" / "0.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match=r"class folder\(s\) \['c'\] that train/ lacks"):
        _open(tmp_path / "d", tmp_path / "tfds")


@pytest.mark.parametrize("case, match", [
    ("empty", r"no PNG, JPEG or BMP images in .*empty: put the images there"),
    ("mixed", r"images of different sizes in .*\(4x4 in a.png, 5x5 in b.png\): pass "
              r"--data.image-size N"),
    ("broken", r"cannot read image .*broken.png .*: remove or replace it"),
    ("both", r"holds images both directly \(x.png...\) and in class sub-folders"),
])
def test_image_folder_errors_name_the_file_and_the_fix(tmp_path, case, match):
    root = tmp_path / case
    root.mkdir()
    if case == "mixed":
        _png(root / "a.png", np.zeros((4, 4), np.uint8))
        _png(root / "b.png", np.zeros((5, 5), np.uint8))
    elif case == "broken":
        _png(root / "a.png", np.zeros((4, 4), np.uint8))
        (root / "broken.png").write_bytes(b"\x89PNG not really")
    elif case == "both":
        _png(root / "x.png", np.zeros((4, 4), np.uint8))
        _png(root / "cls" / "y.png", np.zeros((4, 4), np.uint8))
    (root / "notes.txt").write_text("ignored")
    with pytest.raises(DataError, match=match):
        _open(root, tmp_path / "tfds")


def test_paths_and_settings_that_cannot_apply_are_refused(tmp_path):
    with pytest.raises(DataError, match="does not exist: pass a folder of images"):
        _open(tmp_path / "missing.csv", tmp_path / "tfds")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match=r"is a \.json file: pass a folder of images"):
        _open(tmp_path / "x.json", tmp_path / "tfds")
    np.save(tmp_path / "x.npy", np.zeros((4, 3), np.float32))
    with pytest.raises(DataError, match="--data.image-size resizes image folders"):
        _open(tmp_path / "x.npy", tmp_path / "tfds", image_size=4)
    with pytest.raises(DataError, match="--data.label-column names a table's column"):
        _open(tmp_path / "x.npy", tmp_path / "tfds", label_column="y")
    with pytest.raises(DataError, match="--data.test-fraction 1.0"):
        OwnOptions(test_fraction=1.0)


def test_arrays_split_into_disjoint_fixed_train_and_test(tmp_path):
    x = np.arange(60, dtype=np.float32).reshape(30, 2)
    np.savez(tmp_path / "v.npz", x=x, y=np.arange(30) % 3)
    own = _open(tmp_path / "v.npz", tmp_path / "tfds", test_fraction=0.2)
    assert own.info.shape == (2,) and own.info.num_levels is None
    assert own.info.splits == {"train": 24, "test": 6} and own.class_names == ("0", "1", "2")
    train, test = _both(own)
    rows = np.concatenate([train.x[:, 0], test.x[:, 0]]) // 2
    assert sorted(rows.tolist()) == list(range(30))  # every example once, in one split
    assert (np.diff(train.x[:, 0]) > 0).all()  # source order kept
    np.testing.assert_array_equal(train.label, (train.x[:, 0] // 2).astype(int) % 3)
    again = _open(tmp_path / "v.npz", tmp_path / "tfds2", test_fraction=0.2)
    np.testing.assert_array_equal(data.load_own(again, "test").x, test.x)  # a fixed split


def test_uint8_arrays_are_images_and_given_splits_are_kept(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (7, 5, 5), dtype=np.uint8)
    x_test = rng.integers(0, 256, (3, 5, 5), dtype=np.uint8)
    np.savez(tmp_path / "i.npz", x_train=x_train, x_test=x_test,
             y_train=np.array(["cat", "dog"] * 3 + ["cat"]), y_test=np.array(["dog"] * 3))
    own = _open(tmp_path / "i.npz", tmp_path / "tfds")
    assert own.info.shape == (5, 5, 1) and own.info.num_levels == 256
    assert own.class_names == ("cat", "dog")
    train, test = _both(own)
    np.testing.assert_array_equal(train.x[..., 0], x_train)
    np.testing.assert_array_equal(test.x[..., 0], x_test)
    assert test.label.tolist() == [1, 1, 1] and train.x.dtype == np.uint8


@pytest.mark.parametrize("arrays, match", [
    ({"x": np.array([[0.0, np.nan], [1, 2], [np.inf, 0]])},
     r"examples has NaN or Inf in 2 example\(s\) \(first: row 0\): drop or fill"),
    ({"features2": np.zeros((3, 2))}, r"no examples array: name it one of x, X.*found features2"),
    ({"x": np.zeros((3, 2)), "y": np.zeros(2)}, r"2 labels of shape \(2,\) for 3 examples"),
    ({"x_train": np.zeros((3, 2)), "x_test": np.zeros((3, 4))}, r"different shapes"),
    ({"x": np.array(["a", "b"])}, r"has shape \(2,\); expected \[N, \.\.\.\]"),
])
def test_array_errors_name_the_file_and_the_fix(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=match):
        _open(tmp_path / "bad.npz", tmp_path / "tfds")


def test_pickled_arrays_are_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot read .*obj.npy without pickle"):
        _open(tmp_path / "obj.npy", tmp_path / "tfds")


def _table(path, rows, header="a,b,kind"):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_csv_and_parquet_give_the_same_table(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=20), rng.integers(0, 9, 20)
    kind = np.array(["x", "y"])[rng.integers(0, 2, 20)]
    rows = [f"{float(u)!r},{v},{k}" for u, v, k in zip(a, b, kind, strict=True)]
    csv = _table(tmp_path / "t.csv", rows)
    pq.write_table(pa.table({"a": a, "b": b, "kind": kind}), tmp_path / "t.parquet")
    own_csv = _open(csv, tmp_path / "tfds", label_column="kind")
    own_pq = _open(tmp_path / "t.parquet", tmp_path / "tfds", label_column="kind")
    assert own_csv.columns == own_pq.columns == ("a", "b")
    assert own_csv.standardize and own_csv.class_names == ("x", "y")
    for split in ("train", "test"):
        one, two = data.load_own(own_csv, split), data.load_own(own_pq, split)
        np.testing.assert_array_equal(one.x, two.x)
        np.testing.assert_array_equal(one.label, two.label)
    train = data.load_own(own_csv, "train")
    kept = np.isin(a.astype(np.float32), train.x[:, 0])
    np.testing.assert_array_equal(train.x, np.stack([a, b], 1).astype(np.float32)[kept])
    np.testing.assert_array_equal(train.label, kind[kept] == "y")


@pytest.mark.parametrize("rows, options, match", [
    (["1,2,x", "3,red,y", "4,5,x"], {"label_column": "kind"},
     r"non-numeric column\(s\) 'b' \(e.g. 'red'\): drop them, encode them"),
    (["1,2,x", "3,4,y"], {}, r"non-numeric column\(s\) 'kind' \(e.g. 'x'\).*--data.label-column"),
    (["1,2,x", "3,,y", "5,6,x"], {"label_column": "kind"},
     r"missing, NaN or Inf values in 1 row\(s\) \(first: data row 2, column 'b'\)"),
    (["1,inf,x", "3,4,y"], {"label_column": "kind"}, r"NaN or Inf values .* data row 1"),
    (["1,2,x", "3,4,y"], {"label_column": "class"}, r"has no column 'class' .*: a, b, kind"),
    (["1,2", "3,4,y"], {"label_column": "kind"}, r"data row 1 has 2 values for 3 columns"),
    ([], {}, r"has no data rows"),
])
def test_table_errors_name_the_file_and_the_fix(tmp_path, rows, options, match):
    path = _table(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError, match=match):
        _open(path, tmp_path / "tfds", **options)


def test_prepared_data_are_reused_until_the_source_or_a_setting_changes(tmp_path, capsys):
    path = _table(tmp_path / "t.csv", [f"{i},{i * i},1" for i in range(10)])
    first = _open(path, tmp_path / "tfds")
    assert "gen-jax: preparing" in capsys.readouterr().err
    assert _open(path, tmp_path / "tfds", label_column=None) == first
    assert capsys.readouterr().err == ""  # read back, not prepared again
    other = _open(path, tmp_path / "tfds", test_fraction=0.3)
    assert other.prepared_dir != first.prepared_dir
    _table(path, [f"{i},{-i},1" for i in range(10)])
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock
    changed = _open(path, tmp_path / "tfds")
    assert changed.fingerprint != first.fingerprint
    assert data.load_own(changed, "train").x[:, 1].max() <= 0


def test_standardizer_round_trips_and_keeps_constant_features():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    s = data.Standardizer.fit(x)
    z = s.apply(x)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-7)
    np.testing.assert_allclose(z[:, 0].std(), 1, rtol=1e-6)
    assert (z[:, 1] == 0).all()
    np.testing.assert_allclose(s.invert(z), x, rtol=1e-6)
    again = data.Standardizer.from_json(s.to_json())
    np.testing.assert_array_equal(again.mean, s.mean)
    with pytest.raises(DataError, match=r"shape \(3,\) cannot take the standardization fitted "
                                        r"on shape \(2,\)"):
        s.apply(np.zeros((2, 3)))


def test_new_data_must_match_the_trained_form(tmp_path):
    path = _table(tmp_path / "t.csv", [f"{i},{i},x" for i in range(10)])
    own = _open(path, tmp_path / "tfds", label_column="kind")
    new = data.read_new(own, _table(tmp_path / "n.csv", ["7,8,x"]), label_column="kind")
    np.testing.assert_array_equal(new.x, [[7, 8]])
    with pytest.raises(DataError, match=r"other columns .*missing: \['b'\], extra: \['c'\]"):
        data.read_new(own, _table(tmp_path / "m.csv", ["1,2,x"], "a,c,kind"),
                      label_column="kind")
    np.save(tmp_path / "n.npy", np.zeros((2, 2), np.float32))
    with pytest.raises(DataError, match="is an array file, but the run was trained on a table"):
        data.read_new(own, tmp_path / "n.npy")
