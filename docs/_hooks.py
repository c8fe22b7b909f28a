"""mkdocs hook: the docstrings' reStructuredText roles shown as code in the API pages.

gen_jax's docstrings cross-reference with Sphinx roles (``:class:`~gen_jax.models.VAE```); the
Google-style renderer leaves them as text. This renders each as the code name it points to.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`(~?)([^`<]+?)`")
_ROLE_CODE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([^<]+)</code>")


def _name(tilde: str, target: str) -> str:
    return target.rsplit(".", 1)[-1] if tilde else target


def on_page_content(html: str, page, config, files) -> str:  # noqa: ARG001 -- mkdocs' signature
    html = _ROLE_CODE.sub(lambda m: f"<code>{_name(m.group(1), m.group(2))}</code>", html)
    return _ROLE.sub(lambda m: f"<code>{_name(m.group(1), m.group(2))}</code>", html)
