"""The value types every config section shares, and the error a config problem becomes.

Kept apart from config.py so that file holds the sections themselves (and stays readable).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.units import parse_duration, parse_size


class ConfigError(LaunchdeckError):
    """A config problem, already worded for the person who has to fix it."""
    title = "config error"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        return f"{self.source}: {len(self.problems)} problems\n" + "\n".join(f"  {p}" for p in self.problems)


def _duration(value: Any) -> float:
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_duration), Field(ge=0)]

PERIOD_FLOOR = 0.1  # s: a refresh or interval of "0s" ran the TUI at 100 % CPU
TIMEOUT_FLOOR = 0.01  # s: a timeout of "0s" made every probe read "timeout after 0ms"


def _at_least(floor: float, what: str):
    def check(value: float) -> float:
        if value < floor:
            raise ValueError(f"must be at least {floor * 1000:.0f}ms (a {what} of {value * 1000:g}ms "
                             f"would {'spin' if what == 'period' else 'time out at once'})")
        return value
    return check


Period = Annotated[float, BeforeValidator(_duration), AfterValidator(_at_least(PERIOD_FLOOR, "period"))]
Timeout = Annotated[float, BeforeValidator(_duration), AfterValidator(_at_least(TIMEOUT_FLOOR, "timeout"))]


def http_url(url: str) -> str:
    """An http(s) URL with a host and, if given, a port from 1 to 65535 (checked at load, not at the
    first poll, where "127.0.0.1:9090" without a scheme read as unknown and port 99999 as a traceback)."""
    if not re.match(r"^https?://[^/\s]+", url, re.I):
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    try:
        port = urlsplit(url).port
    except ValueError:
        raise ValueError("expected a URL whose port is a number from 1 to 65535") from None
    if port == 0:
        raise ValueError("expected a URL whose port is a number from 1 to 65535")
    return url


class Section(BaseModel):
    """Base for every table in the file: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _ratio(value: Any) -> Any:
    """ "1%" -> 0.01; a bare number is taken as a fraction (0.01)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(Decimal(value.strip()[:-1]) / 100)  # Decimal: "99.9%" is 0.999, not 0.99900...01
        except ArithmeticError:
            raise ValueError(f"expected a percentage like \"1%\" or a fraction like 0.01, got {value!r}") from None
    return value


Ratio = Annotated[float, BeforeValidator(_ratio), Field(ge=0, le=1)]


def _size(value: Any) -> int:
    return parse_size(value)


Size = Annotated[int, BeforeValidator(_size)]
