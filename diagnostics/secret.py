"""Secrets are masked from the moment they are read.

`Secret` holds a value whose text form is `****`; only a probe that connects
calls `reveal()`. Every secret value ever wrapped is also remembered, so
`redact()` — the one rule every output goes through (screen, plain mode,
JSON, Markdown, recordings, logs, error messages) — can scrub it even where it
slipped into free text such as a server's error message.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "****"

_known: set[str] = set()

# Names whose values are secret, whatever the value looks like.
SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|(api|admin|deploy|access|private)[_-]?key|auth|credential|"
    r"(^|_)key$|^dsn$)",
    re.IGNORECASE,
)
# URL userinfo: scheme://user:password@  (password may hold anything but '@' and whitespace)
_URL_USERINFO = re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s'\"]*:)(?P<pw>[^@\s'\"]+)(?P<at>@)")
# libpq key/value form: password=xyz
_KV_PASSWORD = re.compile(r"(?P<pre>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)
# Convex admin / deploy keys: "<name>|<hex>" (self-hosted) and "prod:<name>|<base64ish>" (deploy keys)
_CONVEX_KEY = re.compile(r"(?P<pre>\b(?:(?:prod|dev|preview|project):)?[a-z0-9][a-z0-9-]*(?::[a-z0-9-]+)?\|)(?P<pw>[A-Za-z0-9+/=_-]{16,})")
_AUTH_HEADER = re.compile(r"(?P<pre>\b(?:authorization|x-convex-token)\s*[:=]\s*(?:(?:bearer|convex|basic)\s+)?)(?P<pw>[^\s,'\"]+)", re.IGNORECASE)
_ENV_SECRET_LINE = re.compile(
    r"(?P<pre>\b(?P<name>[A-Z][A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|ADMIN_KEY|DEPLOY_KEY|API_KEY))\s*=\s*)(?P<pw>'[^']*'|\"[^\"]*\"|\S+)"
)


class Secret:
    """A secret value. `str()`/`repr()`/f-strings show `****`."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        remember(value)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK if self._value else ""

    __repr__ = lambda self: f"Secret({MASK!r})"  # noqa: E731
    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # never pickled or copied out in clear
        raise TypeError("Secret values are not serialisable")


def remember(value: str) -> None:
    """Register a value that must never be printed (short values are too
    ambiguous to scrub from free text and are only masked structurally)."""
    if value and len(value) >= 4 and MASK not in value:  # an already-masked value is not a secret
        _known.add(value)
        # percent-encoded and shell-quoted forms travel too
        from urllib.parse import quote

        _known.add(quote(value, safe=""))


def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact(text: str) -> str:
    """Mask every secret in free text. Idempotent."""
    if not text:
        return text
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    text = _URL_USERINFO.sub(lambda m: m["pre"] + (m["pw"] if _placeholder(m["pw"]) else MASK) + m["at"], text)
    text = _KV_PASSWORD.sub(lambda m: m["pre"] + MASK, text)
    text = _CONVEX_KEY.sub(lambda m: m["pre"] + MASK, text)
    text = _AUTH_HEADER.sub(lambda m: m["pre"] + MASK, text)
    text = _ENV_SECRET_LINE.sub(lambda m: m["pre"] + MASK, text)
    return text


def _placeholder(pw: str) -> bool:
    """A mask or a shell reference such as ${PGPASSWORD} (what paste-ready fixes use)."""
    return pw == MASK or bool(re.fullmatch(r"\$\{?[A-Z_][A-Z0-9_]*\}?", pw))


def redact_obj(obj: Any) -> Any:
    """Redact every string inside a JSON-like structure; mask values whose key looks secret."""
    if isinstance(obj, Secret):
        return str(obj)
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, str) and isinstance(k, str) and _secret_key(k) and v and "://" not in v:
                out[k] = MASK
            else:
                out[k] = redact_obj(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj


def _secret_key(key: str) -> bool:
    k = key.lower()
    if k in {"password", "admin_key", "deploy_key", "token", "secret", "authorization"}:
        return True
    return bool(re.search(r"(password|secret|token|admin_key|deploy_key|api_key)$", k))
