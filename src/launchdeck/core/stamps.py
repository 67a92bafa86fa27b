"""Backup times written into file names (`main_db_20250128_120000.sql.gz`), read with a strftime format."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

# the directives a backup stamp uses, as the digits they print; others would need a locale to read
_DIRECTIVES = {"Y": r"\d{4}", "m": r"\d{2}", "d": r"\d{2}", "H": r"\d{2}", "M": r"\d{2}", "S": r"\d{2}",
               "y": r"\d{2}", "j": r"\d{3}", "f": r"\d{1,6}", "%": "%"}


@lru_cache(maxsize=32)
def stamp_regex(fmt: str) -> re.Pattern[str]:
    """A regex finding `fmt` inside a name; ValueError names a directive that cannot be read back."""
    parts, i = [], 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            parts.append(re.escape(char))
            i += 1
            continue
        directive = fmt[i + 1: i + 2]
        if directive not in _DIRECTIVES:
            raise ValueError(f"name_time {fmt!r}: %{directive} is not supported "
                             f"(use %{', %'.join(d for d in _DIRECTIVES if d != '%')})")
        parts.append(f"({_DIRECTIVES[directive]})" if directive != "%" else "%")
        i += 2
    if "%Y" not in fmt and "%y" not in fmt:
        raise ValueError(f"name_time {fmt!r}: needs a year (%Y or %y)")
    return re.compile("".join(parts))


def stamp_in_name(name: str, fmt: str, zone: str = "UTC") -> datetime | None:
    """The time stamped in `name` as an aware UTC datetime, or None when the name carries no valid stamp.

    The last match wins: in `db2_20250128_120000` the stamp is at the end, not the "2" of the name.
    """
    matches = list(stamp_regex(fmt).finditer(name))
    for match in reversed(matches):
        text = match.group(0)
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:  # 20251399: digits in the right places, not a date
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        return moment.astimezone(timezone.utc)
    return None
