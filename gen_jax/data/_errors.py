"""The one error type raised for bad data, bad data-set names and bad loader arguments."""

from __future__ import annotations


class DataError(ValueError):
    """A data problem a user can fix: a missing or corrupt raw file, an unknown name or split.

    Messages are one line that names the problem and then the fix, e.g.
    ``missing raw file /data/mnist/t10k-labels-idx1-ubyte.gz: ...``.
    """
