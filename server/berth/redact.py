"""Never a password in what berth relays or stores: messages, logs, hook results.

Two nets: :func:`urls` masks the credentials of any ``scheme://user:password@``
and any conninfo ``password=...`` in a text, whoever wrote it; :func:`mask`
masks known secrets (raw and percent-encoded) wherever they appear, for output
of a user's command that may print a password on its own.

Standard library only, and cheap to import: :mod:`berth.errors` uses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "****"
# scheme://user:password@ (the user may be empty: redis://:password@host).
_URL_SECRET = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)([^@\s]+)(@)")
# libpq's key/value form: password=secret or password='quoted \' secret'.
_CONNINFO_SECRET = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'][^\s]*)", re.IGNORECASE)
_URL_IN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def urls(text: str) -> str:
    """``text`` with the passwords of its URLs and conninfo strings masked."""
    if "://" in text:
        text = _URL_SECRET.sub(rf"\1{MASK}\3", text)
    if "=" in text:
        text = _CONNINFO_SECRET.sub(rf"\1{MASK}", text)
    return text


def secrets_in(env: Mapping[str, str]) -> set[str]:
    """The passwords an environment carries: in URLs of its values, and ``*PASSWORD*``."""
    found: set[str] = set()
    for key, value in env.items():
        if "PASSWORD" in key.upper() and value:
            found.add(value)
        if "://" not in value:
            continue
        for url in _URL_IN.findall(value):
            try:
                password = urlsplit(url).password
            except ValueError:
                continue
            if password:
                found.update({password, unquote(password)})
    return found


def _forms(secret: str) -> set[str]:
    """How ``secret`` may show up in a text: as is, or percent-encoded for a URL."""
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of each of ``secrets`` and every URL password masked."""
    forms = {form for secret in secrets if secret for form in _forms(secret)}
    for form in sorted(forms, key=len, reverse=True):  # the longest first: no half masks
        text = text.replace(form, MASK)
    return urls(text)
