"""Types shared by every dataset: what a split holds and what a model needs to know about it."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes:
      name: registry name, e.g. ``"mnist"``.
      shape: shape of one example, e.g. ``(28, 28, 1)`` for images or ``(2,)`` for toy points.
      num_classes: number of label classes; 0 when the data set has no labels.
      num_levels: number of discrete values per dimension of the stored data (256 for 8-bit
        images, 2 for binary images, 17 for scikit-learn's digits); ``None`` for continuous data.
      splits: split name -> number of examples.
      vocabulary: for token sequences (molecules as SMILES or SELFIES), the token of each id;
        ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``, every example starts with ``<bos>``
        and ends with ``<eos>`` then padding. None for every other kind of data.
      target: a translation pair's second domain (``data.target``): what a model that maps
        these examples to that domain (pix2pix, CycleGAN) needs to know about it. None: one
        domain.
      paired: with a ``target``, whether its examples correspond to these ones row for row
        (each image and its counterpart, same split sizes) rather than being an unrelated
        collection of the other domain.
    """

    name: str
    shape: tuple[int, ...]
    num_classes: int
    num_levels: int | None
    splits: dict[str, int] = dataclasses.field(default_factory=dict)
    vocabulary: tuple[str, ...] | None = None
    target: DatasetInfo | None = None
    paired: bool = False

    @property
    def is_discrete(self) -> bool:
        return self.num_levels is not None

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))


@dataclasses.dataclass(frozen=True)
class ArrayDataset:
    """One split held in host memory.

    Attributes:
      info: the dataset's :class:`DatasetInfo`.
      split: split name.
      x: ``[N, *info.shape]`` examples; ``uint8`` in ``[0, num_levels)`` for discrete data,
        ``float32`` for continuous data.
      label: ``[N]`` ``int32`` labels, or ``None`` when the data set has none.
      target: a translation pair's split of the second domain (``info.target``): row ``i``
        is the counterpart of ``x[i]`` when ``info.paired``, else an unrelated example. Batches
        carry its examples as ``"y"`` (and labels as ``"y_label"``).
    """

    info: DatasetInfo
    split: str
    x: np.ndarray
    label: np.ndarray | None = None
    target: ArrayDataset | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])
