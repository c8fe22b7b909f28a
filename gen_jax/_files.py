"""Writing the small files a run is read back from, so that a kill never leaves half of one."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file in the same folder and a rename: a
    reader sees the old file or the whole new one, never a part (POSIX ``rename``), also while
    other processes write it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic_with(path: str | Path, write) -> None:
    """``write(tmp)`` a file beside ``path`` (same suffix), then renames it to ``path``: a
    reader sees the old file or the whole new one (e.g. ``lambda p: np.savez(p, ...)``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
