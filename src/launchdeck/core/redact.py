"""Keep secrets off the screen, out of logs and out of JSON.

Two mechanisms: URLs and DSNs are shown with their password and token-like query values masked,
and any text can be scrubbed of the exact secret values the config interpolated from ${ENV}.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_PARAM = re.compile(r"(pass|pwd|secret|token|key|signature|sig|auth|credential|session|sid|cookie|code)",
                           re.I)
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
_MIN_SECRET_LEN = 3  # shorter values would mask innocent text everywhere


# text that may echo a connection string (a command's output, a config error): mask what looks like a password
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(@)", re.I)
_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)


def mask_passwords(text: str) -> str:
    """`scheme://user:***@host` and `password=***` wherever they appear in free text."""
    return _KV_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***\2", text))


def redact_url(url: str) -> str:
    """Mask the password in user:pass@host and the value of secret-looking query parameters, in the
    query and in a `#key=value` fragment (OAuth's implicit flow puts access tokens there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        netloc = f"{userinfo}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, _mask_pairs(parts.query), _mask_pairs(parts.fragment)))


def _mask_pairs(text: str) -> str:
    """`a=1&token=x` with secret-looking values masked; a plain anchor (`#install`) as it is."""
    if "=" not in text:
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    return urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")


def redact_dsn(dsn: str) -> str:
    """libpq DSN in URL form or key=value form, with the password masked."""
    if "://" in dsn:
        return redact_url(dsn)
    return _DSN_PASSWORD.sub(lambda m: m.group(1) + MASK, dsn)


class Scrubber:
    """Replaces every known secret value in a text with the mask. Callable, cheap when empty."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}
        # longest first, so a secret that contains another is masked whole
        self._pattern = (re.compile("|".join(re.escape(s) for s in sorted(values, key=len, reverse=True)))
                         if values else None)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)
