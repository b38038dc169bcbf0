"""Outside text made safe to show on a terminal or in Markdown.

Values from flags, the environment, `.env*`, fly.toml, URLs, server errors,
logs and HTTP bodies may hold control characters: ESC starts sequences that
clear the screen, retitle the window or write the clipboard (OSC 52). Every
view passes outside text through `shown()` (masked, then made visible), or
`visible()` for text already masked. JSON needs neither: `json.dumps`
escapes control characters itself.
"""

from __future__ import annotations

import re

from .secret import redact

# C0 controls but tab and newline, DEL, C1 controls; bidirectional overrides and
# isolates (they reorder what the eye reads, "Trojan Source"); line/paragraph separators
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    if c < 0x20:
        return "^" + chr(c + 0x40)  # ESC -> ^[, BEL -> ^G, as `cat -v` shows them
    if c == 0x7F:
        return "^?"
    return f"\\u{c:04x}"


def visible(text: str, one_line: bool = False) -> str:
    """Control characters shown as `^[` / `\\u009b`; tab and newline kept unless `one_line`."""
    if not text:
        return text
    text = str(text)
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_escape, text)


def shown(text: str, one_line: bool = False) -> str:
    """Outside text for a view: secrets masked first, then control characters made visible."""
    return visible(redact(str(text)), one_line)


def has_unsafe(text: str) -> bool:
    return bool(_UNSAFE.search(text))


class RedactingFormatter:
    """Wraps a logging formatter so every log line (ours and libraries', e.g.
    psycopg's warnings) goes through `redact()`, control characters made visible."""

    def __init__(self, inner=None):
        import logging

        self.inner = inner or logging.Formatter("%(name)s: %(levelname)s: %(message)s")

    def format(self, record) -> str:
        return visible(redact(self.inner.format(record)))  # a server's words in a library's warning may hold ESC

    def __getattr__(self, name):
        return getattr(self.inner, name)


def install_log_redaction(stream=None) -> None:
    """Route warnings and errors of every logger to `stream` (stderr), redacted."""
    import logging
    import sys

    root = logging.getLogger()
    if any(isinstance(h.formatter, RedactingFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter())
    handler.setLevel(logging.WARNING)
    root.addHandler(handler)
    for h in root.handlers:
        if not isinstance(h.formatter, RedactingFormatter):
            h.setFormatter(RedactingFormatter(h.formatter))
