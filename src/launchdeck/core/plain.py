"""One rule for text that people write (item texts, deck and service names, notes, reasons, file
names, command output): it is data, shown as it is and never obeyed.

Two halves. Markup is never parsed: the TUI builds `Content.styled`/`Content.assemble` (never
`from_markup`), the CLI builds `rich.text.Text` (never a markup string), notifications pass
`markup=False`. And control characters are made visible here, before any of those: an escape
sequence in a colleague's note (`ESC [2J`, `ESC ]0;title BEL`) would otherwise clear or retitle
every operator's terminal, and a right-to-left override would show a different text than the
one signed. Each becomes a visible, one-column stand-in, so the reader sees that something odd
is there and nothing is hidden.
"""

from __future__ import annotations

NEWLINE = "␤"  # a line break in one-line places (a table cell, a report line, a row's reason)

# C0 controls as Unicode's control pictures (ESC → ␛, BEL → ␇, NUL → ␀), DEL as ␡.
_TABLE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
_TABLE[0x7F] = "␡"
_TABLE[ord("\t")] = " "  # a tab is harmless but breaks alignment: one space
# C1 controls (0x80-0x9f; 0x9b is a one-byte CSI on some terminals) and the invisible
# direction and joining marks that make shown text differ from stored text.
for _code in [*range(0x80, 0xA0), 0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F,
              *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]:
    _TABLE[_code] = f"\\u{_code:04x}"

_ONE_LINE = dict(_TABLE)
_ONE_LINE[ord("\n")] = NEWLINE
_MULTI_LINE = dict(_TABLE)
del _MULTI_LINE[ord("\n")]


def visible(text: object) -> str:
    """`text` on one line with every control character shown, not obeyed."""
    return str(text).translate(_ONE_LINE)


def visible_lines(text: object) -> str:
    """The same, keeping line breaks (command output, a multi-line note in a dialog)."""
    return str(text).translate(_MULTI_LINE)


__all__ = ["NEWLINE", "visible", "visible_lines"]
