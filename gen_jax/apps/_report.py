"""How the applications' commands leave a report: JSON, and a markdown table beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._files import write_atomic


def write_report(out: str | Path, report: dict[str, Any], markdown: str) -> Path:
    """Writes ``out`` (the report as JSON) and ``out`` with ``.md`` (the markdown), each
    atomically, creating the folder; prints the markdown, then one JSON line naming both
    files. Returns ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(report, indent=2) + "\n")
    write_atomic(out.with_suffix(".md"), markdown)
    print(markdown, end="")
    print(json.dumps({"report": str(out), "markdown": str(out.with_suffix(".md"))}))
    return out
