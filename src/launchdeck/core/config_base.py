"""The value types every config section shares, and the error a config problem becomes.

Kept apart from config.py so that file holds the sections themselves (and stays readable).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

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
    """Base for every table in the file: unknown keys are errors, values are immutable.

    defer_build: a model's validator is built when it first validates, not at import (building them
    all was ~0.2 s of the dashboard's start-up); `validate_sections` builds only the sections a file has."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


Model = TypeVar("Model", bound=BaseModel)


@cache
def _adapter(model: type[BaseModel], field: str) -> TypeAdapter:
    info = model.model_fields[field]
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(annotation)


def _absent(model: type[BaseModel], field: str) -> Any:
    """A field the file does not set: its default; a section's default model is made without validating
    (defaults are not validated either way), so its validator is never built."""
    info = model.model_fields[field]
    factory = info.default_factory
    if isinstance(factory, type) and issubclass(factory, BaseModel):
        return factory.model_construct()
    return info.get_default(call_default_factory=True)


def validate_sections(model: type[Model], data: dict[str, Any]) -> tuple[Model | None, list[dict[str, Any]]]:
    """`model.model_validate(data)` one top-level key at a time: the same values and the same errors
    (locations from the top, fields in the model's order, then unknown keys), but only the sections
    present in `data` build their validators. A model-level validator on `model` itself would not run:
    the top-level model has none (its cross-section rules are config.py's _cross_check)."""
    fields = model.model_fields
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for field in fields:
        if field not in data:
            values[field] = _absent(model, field)
            continue
        try:
            values[field] = _adapter(model, field).validate_python(data[field])
        except ValidationError as error:
            errors += [{**e, "loc": (field, *e["loc"])} for e in error.errors()]
    errors += [{"type": "extra_forbidden", "loc": (key,), "msg": "Extra inputs are not permitted", "input": value}
               for key, value in data.items() if key not in fields]
    if errors:
        return None, errors
    return model.model_construct(_fields_set={key for key in data if key in fields}, **values), []


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
