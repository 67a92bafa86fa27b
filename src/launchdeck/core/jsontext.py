"""JSON for a terminal: exactly the data, with no character a terminal would obey.

json.dumps already writes C0 controls (ESC included) as \\u escapes; with ensure_ascii=False it
leaves DEL, the C1 controls (0x9b is a one-byte CSI on some terminals) and the invisible direction
marks raw. Those can only occur inside JSON strings, where a \\u escape is the same character, so
escaping them keeps the document byte-for-byte equivalent data while `launchdeck ... --json` on a
terminal shows them instead of obeying them. Other non-ASCII text stays readable.
"""

from __future__ import annotations

import json
from typing import Any

from launchdeck.core.plain import _TABLE  # the one list of characters people's text must not smuggle

_ESCAPES = {code: f"\\u{code:04x}" for code in _TABLE if code >= 0x7F}


def dumps(obj: Any, indent: int | None = 2, **options: Any) -> str:
    """json.dumps(ensure_ascii=False) with the characters above written as \\u escapes."""
    return json.dumps(obj, indent=indent, ensure_ascii=False, **options).translate(_ESCAPES)


__all__ = ["dumps"]
