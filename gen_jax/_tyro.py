"""``tyro.cli`` with its parse errors as one line, like every other error of ``gen-jax``.

tyro reports a bad flag in a box of up to 30 lines (the message, similar options, help text).
:func:`parse` keeps the messages and tyro's first suggestions and raises them as one
``ValueError``, which the command line prints as ``gen-jax: error: ...``. ``--help`` shows the
docstrings as plain text (:func:`plain`: no reStructuredText markup).
"""

from __future__ import annotations

import contextlib
import io
import os
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


_NOT_MESSAGES = ("Perhaps you meant", "Arguments similar to", "For full helptext",
                 "Argument helptext")


def one_line(text: str, prog: str) -> str | None:
    """tyro's error ``text`` as one line: its messages (tyro may report a missing and an
    unrecognized option together), up to 3 suggested flags and where the help is; None when
    the text is not in the form tyro writes."""
    segments = _segments(text)
    messages = [" ".join(s) for s in segments[1:] if not s[0].startswith(_NOT_MESSAGES)]
    if not messages:
        return None
    suggestions: list[str] = []
    for segment in segments[1:]:
        if segment[0].startswith(_NOT_MESSAGES[:2]):
            suggestions += [line.split()[0] for line in segment[1:] if line.startswith("-")]
    hint = f"did you mean {', '.join(suggestions[:3])}? " if suggestions else ""
    return f"{'; '.join(messages)} ({hint}see `{prog} --help`)"


_ROLE = re.compile(r":[a-z]+:`(~?)([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain(text: str) -> str:
    """Docstring text for a terminal: ``:class:`~a.b.C``` -> ``C``, ``:func:`a.f``` ->
    ``a.f``, a double-backquoted literal -> its text."""
    text = _ROLE.sub(lambda m: m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2), text)
    return _LITERAL.sub(r"\1", text)


@contextlib.contextmanager
def _plain_docstrings():
    """tyro's docstring readers, returning :func:`plain` text for the block."""
    from tyro import _docstrings  # noqa: PLC0415 -- private, checked by tests/test_tyro.py

    field, described = _docstrings.get_field_docstring, _docstrings.get_callable_description

    def get_field_docstring(*args, **kwargs):
        text = field(*args, **kwargs)
        return None if text is None else plain(text)

    def get_callable_description(*args, **kwargs):
        return plain(described(*args, **kwargs))

    _docstrings.get_field_docstring = get_field_docstring
    _docstrings.get_callable_description = get_callable_description
    try:
        yield
    finally:
        _docstrings.get_field_docstring, _docstrings.get_callable_description = field, described


@contextlib.contextmanager
def _environ(**values: str):
    """Sets environment variables for the block, then restores them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def parse(cls: Any, args: list[str], prog: str, **kwargs: Any) -> Any:
    """``tyro.cli(cls, args=args, prog=prog, **kwargs)``; a parse error raises a one-line
    ``ValueError`` instead of printing tyro's box and exiting."""
    import tyro  # noqa: PLC0415 (the command line imports it only when parsing)

    err = io.StringIO()
    # A wide console, so that tyro does not wrap a long value in the middle of a word (the
    # lines are joined with spaces); --help keeps the terminal's width.
    wide = {} if {"-h", "--help"} & set(args) else {"COLUMNS": "100000"}
    try:
        with contextlib.redirect_stderr(err), _environ(**wide), _plain_docstrings():
            result = tyro.cli(cls, args=args, prog=prog, **kwargs)
    except SystemExit as e:
        message = one_line(err.getvalue(), prog) if e.code not in (0, None) else None
        if message is None:  # --help, or text this module does not recognize: tyro's own
            sys.stderr.write(err.getvalue())
            raise
        raise ValueError(message) from None
    sys.stderr.write(err.getvalue())  # tyro's warnings, if any
    return result
