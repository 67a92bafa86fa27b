"""A five-row block font for the wall: GO, NO-GO, CAUTION, STALE, figures and their units.

Textual's `Digits` has no G, N or O, and a verdict read across a room needs letters as tall as the
numbers. Each glyph is five rows of `#` and spaces; `big()` turns a short text into lines of `█`,
optionally scaled (2 doubles width and height: a 200x60 terminal on a 1080p TV). Text with a
character the font lacks is not drawn big at all (`supported`), so a figure never shows a hole.
"""

from __future__ import annotations

from textual.content import Content

from launchdeck.tui.palette import styled

ROWS = 5
BLOCK = "█"

_FONT_SOURCE = {
    "A": (" ### ", "#   #", "#####", "#   #", "#   #"),
    "C": (" ####", "#    ", "#    ", "#    ", " ####"),
    "D": ("#### ", "#   #", "#   #", "#   #", "#### "),
    "E": ("#####", "#    ", "#### ", "#    ", "#####"),
    "G": (" ####", "#    ", "#  ##", "#   #", " ### "),
    "I": ("###", " # ", " # ", " # ", "###"),
    "L": ("#    ", "#    ", "#    ", "#    ", "#####"),
    "N": ("#   #", "##  #", "# # #", "#  ##", "#   #"),
    "O": (" ### ", "#   #", "#   #", "#   #", " ### "),
    "S": (" ####", "#    ", " ### ", "    #", "#### "),
    "T": ("#####", "  #  ", "  #  ", "  #  ", "  #  "),
    "U": ("#   #", "#   #", "#   #", "#   #", " ### "),
    "0": (" ### ", "#  ##", "# # #", "##  #", " ### "),
    "1": ("  #  ", " ##  ", "  #  ", "  #  ", " ### "),
    "2": (" ### ", "#   #", "  ## ", " #   ", "#####"),
    "3": ("#### ", "    #", " ### ", "    #", "#### "),
    "4": ("#   #", "#   #", "#####", "    #", "    #"),
    "5": ("#####", "#    ", "#### ", "    #", "#### "),
    "6": (" ### ", "#    ", "#### ", "#   #", " ### "),
    "7": ("#####", "    #", "   # ", "  #  ", "  #  "),
    "8": (" ### ", "#   #", " ### ", "#   #", " ### "),
    "9": (" ### ", "#   #", " ####", "    #", " ### "),
    "%": ("##  #", "## # ", "  #  ", " # ##", "#  ##"),
    ".": ("  ", "  ", "  ", "  ", "##"),
    ":": ("  ", "##", "  ", "##", "  "),
    "/": ("    #", "   # ", "  #  ", " #   ", "#    "),
    "-": ("    ", "    ", "####", "    ", "    "),
    "h": ("#    ", "#    ", "#### ", "#   #", "#   #"),
    "m": ("     ", "## # ", "# # #", "# # #", "# # #"),
    "s": ("    ", " ###", "##  ", "  ##", "### "),
    "d": ("    #", "    #", " ####", "#   #", " ####"),
    " ": ("  ", "  ", "  ", "  ", "  "),
}
FONT = {char: tuple(row.replace("#", BLOCK) for row in rows) for char, rows in _FONT_SOURCE.items()}
FONT["—"] = FONT["-"]  # "no value" in a figure


def supported(text: str) -> bool:
    """Every character has a glyph (letters are drawn upper case, units h m s d lower case)."""
    return bool(text) and all(_glyph_key(char) in FONT for char in text)


def _glyph_key(char: str) -> str:
    return char if char in FONT else char.upper()


def big_lines(text: str, scale: int = 1, gap: int = 1) -> list[str]:
    """The text as ROWS * scale lines of equal width (one blank column between glyphs, scaled)."""
    glyphs = [FONT[_glyph_key(char)] for char in text]
    spacer = " " * gap
    lines = [spacer.join(glyph[row] for glyph in glyphs) for row in range(ROWS)]
    if scale > 1:
        lines = ["".join(char * scale for char in line) for line in lines for _ in range(scale)]
    return lines


def big_width(text: str, scale: int = 1, gap: int = 1) -> int:
    return len(big_lines(text, scale, gap)[0]) if text else 0


def big(text: str, style: str = "", scale: int = 1) -> Content:
    """Multi-line Content of `text` in the block font; call only when `supported(text)`."""
    return Content("\n").join(styled(line, style) for line in big_lines(text, scale))


__all__ = ["BLOCK", "FONT", "ROWS", "big", "big_lines", "big_width", "supported"]
