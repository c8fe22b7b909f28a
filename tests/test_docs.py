"""The documentation: the site builds with every warning an error, and no document names a path
of one machine."""

import os
import re
import subprocess
import sys

import pytest

from .conftest import REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md")),
             *sorted((REPO / "experiments").rglob("README.md")),
             *sorted((REPO / "benchmarks").glob("*.md"))]


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    api = (tmp_path / "site" / "api" / "models" / "index.html").read_text()
    # The API pages hold the re-exported members, with the docstrings' roles rendered as code.
    assert api.count("doc-object") > 50 and "GenerativeModel" in api
    assert ":class:`" not in api and ":func:`" not in api


def test_no_document_names_a_machine_specific_path():
    pattern = re.compile(r"(?<![\w.])/(work|root|home|Users|tmp)/")
    bad = [f"{p.relative_to(REPO)}:{i}: {line.strip()}" for p in DOCUMENTS
           for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not bad, "\n".join(bad)
