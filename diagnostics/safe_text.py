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
