"""``tyro.cli`` with its parse errors as one line, like every other error of ``gen-jax``.

tyro reports a bad flag in a box of up to 30 lines (the message, similar options, help text).
:func:`parse` keeps the message and tyro's first suggestions and raises them as one
``ValueError``, which the command line prints as ``gen-jax: error: ...``. ``--help`` is
untouched.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from typing import Any

_BOX = "│╭╮╰╯┃┏┓┗┛"


def _segments(text: str) -> list[list[str]]:
    """tyro's error text (boxed or plain) as its sections of lines, the title first."""
    segments: list[list[str]] = [[]]
    for raw in text.splitlines():
        title = re.match(r"\s*[╭┏]─+ (.*?) ─", raw)
        if title:
            segments = [[title.group(1)], []]
            continue
        line = raw.strip().strip(_BOX).strip()
        if re.fullmatch(r"[-─━]+", line):
            segments.append([])
        elif line:
            segments[-1].append(line)
    return [s for s in segments if s]


def one_line(text: str, prog: str) -> str | None:
    """tyro's error ``text`` as one line: the message, up to 3 suggested flags and where the
    help is; None when the text is not in the form tyro writes."""
    segments = _segments(text)
    if len(segments) < 2:
        return None
    message = " ".join(segments[1])
    suggestions: list[str] = []
    for segment in segments[2:]:
        if segment[0].startswith(("Perhaps you meant", "Arguments similar to")):
            suggestions = [line.split()[0] for line in segment[1:] if line.startswith("-")]
    hint = f"did you mean {', '.join(suggestions[:3])}? " if suggestions else ""
    return f"{message} ({hint}see `{prog} --help`)"


def parse(cls: Any, args: list[str], prog: str, **kwargs: Any) -> Any:
    """``tyro.cli(cls, args=args, prog=prog, **kwargs)``; a parse error raises a one-line
    ``ValueError`` instead of printing tyro's box and exiting."""
    import tyro  # noqa: PLC0415 (the command line imports it only when parsing)

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            result = tyro.cli(cls, args=args, prog=prog, **kwargs)
    except SystemExit as e:
        message = one_line(err.getvalue(), prog) if e.code not in (0, None) else None
        if message is None:  # --help, or text this module does not recognize: tyro's own
            sys.stderr.write(err.getvalue())
            raise
        raise ValueError(message) from None
    sys.stderr.write(err.getvalue())  # tyro's warnings, if any
    return result
