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
# URL userinfo: scheme://user:password@ — the password runs to the LAST '@' of the token,
# so an unescaped '@' in it cannot leak its tail.
_URL_USERINFO = re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s'\"]*:)(?P<pw>[^\s'\"]*)(?P<at>@)")
# libpq key/value form: password=xyz
_KV_PASSWORD = re.compile(r"(?P<pre>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)
# Convex admin / deploy keys: "<name>|<hex>" (self-hosted) and "prod:<name>|<base64ish>" (deploy keys)
_CONVEX_KEY = re.compile(r"(?P<pre>\b(?:(?:prod|dev|preview|project):)?[a-z0-9][a-z0-9-]*(?::[a-z0-9-]+)?\|)(?P<pw>[A-Za-z0-9+/=_-]{16,})")
# Authorization headers, bare or quoted as in JSON: the credential after the scheme word
_AUTH_HEADER = re.compile(
    r"(?P<pre>\b(?:proxy-)?(?:authorization|x-convex-token|x-api-key)\"?\s*[:=]\s*\"?(?:(?:bearer|convex|basic|token|flyv1)\s+)?)(?P<pw>[^\s,'\"]+)",
    re.IGNORECASE,
)
# Fly API tokens: "FlyV1 fm2_..." and bare fm1/fm2/fo1 macaroons
_FLY_TOKEN = re.compile(r"(?P<pre>\bFlyV1\s+|\b(?:fm1[ar]?|fm2|fo1)_)(?P<pw>[A-Za-z0-9_+/=,-]{8,})")
# a bearer credential quoted without its header name ("... sent Bearer abc.def ...")
_BEARER = re.compile(r"(?P<pre>\bBearer\s+)(?P<pw>[A-Za-z0-9._~+/=-]{8,})")
# NAME=value, "name": "value" and (at a line start) NAME: value, when the name looks secret
_NAMED_VALUE = re.compile(
    r"(?P<pre>(?P<q>\"?)\b(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P=q)\s*=\s*)(?P<pw>'[^'\n]*'?|\"[^\"\n]*\"?|[^\s'\"]+)"
    r"|(?P<jpre>\"(?P<jname>[A-Za-z_][A-Za-z0-9_.-]*)\"\s*:\s*)(?P<jpw>\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<ypre>^[ \t]*(?:-[ \t]+)?(?P<yname>[A-Z_][A-Z0-9_]*):[ \t]+)(?P<ypw>[^\s'\"#][^\n]*)",
    re.MULTILINE,
)


class Secret:
    """A secret value. `str()`/`repr()`/f-strings show `****`."""

    __slots__ = ("_value",)

    def __init__(self, value: str, remember_value: bool = True):
        self._value = value
        if remember_value:
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
    if not value or len(value) < 4 or MASK in value:  # an already-masked value is not a secret
        return
    import json
    from urllib.parse import quote, quote_plus, unquote

    # the forms a value travels in: as is, percent-encoded (upper or lower hex,
    # '+' for spaces), decoded, and escaped inside JSON text
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), unquote(value), json.dumps(value)[1:-1]}
    for f in list(forms):
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f))
    _known.update(f for f in forms if len(f) >= 4)


def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact(text: str, known: bool = True) -> str:
    """Mask every secret in free text. Idempotent. `known=False`: by shape only (URL
    userinfo, password=, keys, tokens), for text whose parts are known not to be secrets."""
    if not text:
        return text
    for value in sorted(_known, key=len, reverse=True) if known else ():
        if value in text:
            text = _mask_known(value, text)
    text = _URL_USERINFO.sub(lambda m: m["pre"] + (m["pw"] if _placeholder(m["pw"]) else MASK) + m["at"], text)
    text = _KV_PASSWORD.sub(lambda m: m["pre"] + (m["pw"] if _placeholder(m["pw"]) else MASK), text)
    text = _CONVEX_KEY.sub(lambda m: m["pre"] + MASK, text)
    text = _AUTH_HEADER.sub(lambda m: m["pre"] + (m["pw"] if _placeholder(m["pw"]) else MASK), text)
    text = _FLY_TOKEN.sub(lambda m: m["pre"] + MASK, text)
    text = _BEARER.sub(lambda m: m["pre"] + MASK, text)
    text = _NAMED_VALUE.sub(_named, text)
    return text


_patterns: dict[str, re.Pattern] = {}


def _mask_known(value: str, text: str) -> str:
    """A remembered value masked where it stands as a token of its own: not inside a longer
    word (the password `secret` leaves "fly secrets" alone), not as a URL scheme
    (`postgres://`), not as a path segment between slashes (`fly.io/docs/postgres/connecting`)."""
    pat = _patterns.get(value)
    if pat is None:
        pat = _patterns[value] = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(value)}(?![A-Za-z0-9_])(?!://)")

    def one(m: re.Match) -> str:
        s, e = m.span()
        if s > 0 and e < len(text) and text[s - 1] == "/" and text[e] == "/":
            return m.group()
        return MASK

    return pat.sub(one, text)


def _named(m: re.Match) -> str:
    for pre, name, pw in (("pre", "name", "pw"), ("jpre", "jname", "jpw"), ("ypre", "yname", "ypw")):
        if m[pre] is not None:
            value = m[pw]
            if not looks_secret(m[name]) or _placeholder(value.strip("'\"")) or MASK in value or "://" in value:
                return m[0]
            q = value[0] if value[:1] in ("'", '"') else ""
            closed = q if len(value) > 1 and value.endswith(q) else ""  # an unterminated quote stays unterminated
            return m[pre] + q + MASK + closed
    return m[0]


def _placeholder(pw: str) -> bool:
    """A mask, a shell reference such as ${PGPASSWORD} or $(openssl rand -hex 32) (what
    paste-ready fixes use) or a <PLACEHOLDER>."""
    return pw in (MASK, "") or bool(re.fullmatch(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\$\([^()\n]*\)|<[^<>\s]*>|\*+", pw))


# keys whose values are the program's own identifiers (a symptom, a node, a cause id,
# an outcome): never masked by value, or a password such as `postgres` would turn the
# symptom `laptop-cant-reach-postgres` into one no replay knows
_IDENTIFIER_KEYS = frozenset({"schema", "symptom", "node", "probe", "track", "outcome", "status", "verdict", "id", "layer", "severity", "branch", "rule"})
_IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_.:/-]*$")


def redact_obj(obj: Any) -> Any:
    """Redact every string inside a JSON-like structure; mask values whose key looks secret."""
    if isinstance(obj, Secret):
        return str(obj)
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, str) and k in _IDENTIFIER_KEYS and _IDENTIFIER.match(v) and "://" not in v:
                out[k] = v
            elif isinstance(v, str) and isinstance(k, str) and _secret_key(k) and v and "://" not in v:
                out[k] = MASK
            else:
                out[k] = redact_obj(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj


def _secret_key(key: str) -> bool:
    """Keys of structured data whose values are secret. Narrower than looks_secret:
    a bare "key" (e.g. an edit's variable name) is not a secret."""
    k = key.lower()
    if k in {"password", "passwd", "admin_key", "deploy_key", "token", "secret", "authorization", "credentials"}:
        return True
    return bool(re.search(r"(pass(word|wd)|secret|token|credentials?|(admin|deploy|api|access|private|secret)[_-]?key)$", k))
