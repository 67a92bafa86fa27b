"""Live evidence for checklist items: `<!-- verify: traffic.error_ratio < 1% for 15m -->`.

Grammar: PANEL[.TARGET].METRIC [OP VALUE] [for DURATION]
  - METRIC `all_ok` / `ok`: every (or the named) target's status is ok.
  - otherwise a reading value (`age` means `age_seconds`, `p95` means `p95_seconds`, ...)
    compared with VALUE: a number, a percentage (`1%` is 0.01) or a duration (`26h`, `500ms`).
  - `for DURATION`: the condition has held on every reading for at least that long.
Without TARGET the condition must hold for every target of the panel. No readings, or a reading
without the value, is `unknown`: evidence never passes on missing data.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator

from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Reading, Status
from launchdeck.core.units import format_duration, format_metric, metric_word, parse_duration

PASS, FAIL, PENDING, UNKNOWN = "pass", "fail", "pending", "unknown"
METRIC_ALIASES = {"age": "age_seconds", "p95": "p95_seconds", "latency": "latency_seconds", "rate": "rate_rps",
                  "cpu": "cpu_percent", "size": "size_bytes"}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_EXPR = re.compile(
    r"^\s*(?P<path>[A-Za-z_][\w.-]*)\s*(?:(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[\d.]+\s*(?:%|ms|[smhdw])?))?"
    r"\s*(?:for\s+(?P<hold>\S+))?\s*$")


class EvidenceSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    text: str
    panel: str
    target: str | None
    metric: str
    op: str | None = None
    value: float | None = None
    hold: float = 0.0

    @property
    def is_status(self) -> bool:
        return self.metric in {"all_ok", "ok"}


@dataclass(frozen=True)
class Evidence:
    """The verdict on one condition now, plus the snapshot a sign-off stores."""

    state: str
    detail: str
    values: dict[str, Any] = field(default_factory=dict)

    def snapshot(self, condition: Condition, now: datetime) -> dict[str, Any]:
        return {"expr": condition.text, "state": self.state, "detail": self.detail,
                "values": dict(self.values), "at": now.isoformat()}


def parse_condition(text: str) -> Condition:
    match = _EXPR.match(text)
    if not match:
        raise EvidenceSyntaxError(f"cannot read evidence {text!r}: expected PANEL[.TARGET].METRIC [OP VALUE] [for DURATION]")
    parts = match["path"].split(".")
    if len(parts) < 2:
        raise EvidenceSyntaxError(f"evidence {text!r}: name a panel and a metric, like services.all_ok")
    panel, metric = parts[0], parts[-1]
    target = ".".join(parts[1:-1]) or None
    is_status = metric in {"all_ok", "ok"}
    if is_status == bool(match["op"]):
        raise EvidenceSyntaxError(f"evidence {text!r}: compare a value (error_ratio < 1%), or use all_ok / ok alone")
    try:
        hold = parse_duration(match["hold"]) if match["hold"] else 0.0
    except ValueError as error:
        raise EvidenceSyntaxError(f"evidence {text!r}: {error}") from None
    value = _number(match["value"], text) if match["value"] else None
    return Condition(text.strip(), panel, target, METRIC_ALIASES.get(metric, metric), match["op"], value, hold)


def _number(raw: str, text: str) -> float:
    raw = raw.replace(" ", "")
    try:
        if raw.endswith("%"):
            return float(raw[:-1]) / 100
        if raw[-1].isalpha():
            return parse_duration(raw)
        return float(raw)
    except ValueError:
        raise EvidenceSyntaxError(f"evidence {text!r}: {raw!r} is not a number, percentage or duration") from None


def _holds(condition: Condition, reading: Reading) -> bool | None:
    """True/False when the reading decides it, None when it cannot (no value, unknown status)."""
    if condition.is_status:
        return None if reading.status is Status.UNKNOWN else reading.status is Status.OK
    value = reading.values.get(condition.metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return _OPS[condition.op](float(value), condition.value)


def evaluate(condition: Condition, history: ReadingHistory, now: datetime, memo: dict | None = None) -> Evidence:
    """`memo` (kept by the caller between calls, e.g. the engine's session) remembers since when each
    target has held, so a `for 15m` condition does not walk every kept reading on every reading."""
    targets = [condition.target] if condition.target else history.targets(condition.panel)
    if not targets:
        return Evidence(UNKNOWN, f"no {condition.panel} readings yet")
    values: dict[str, Any] = {}
    worst: tuple[int, str] = (0, "")
    order = {PASS: 0, PENDING: 1, FAIL: 2, UNKNOWN: 3}
    for target in targets:
        state, detail, value = _judge_target(condition, history, target, now, memo)
        values[target] = value
        if order[state] > worst[0] or not worst[1]:
            worst = (order[state], f"{target}: {detail}")
    state = next(s for s, rank in order.items() if rank == worst[0])
    return Evidence(state, worst[1] if state != PASS else _pass_detail(condition, len(targets)), values)


def _pass_detail(condition: Condition, count: int) -> str:
    held = f" for {format_duration(condition.hold)}" if condition.hold else ""
    who = condition.target or f"all {count} {condition.panel} targets"
    return f"{who}: holds{held}"


def _judge_target(condition: Condition, history: ReadingHistory, target: str, now: datetime,
                  memo: dict | None = None) -> tuple[str, str, Any]:
    readings = history.newest_first(condition.panel, target)
    newest = next(readings, None)
    if newest is None:
        return UNKNOWN, "no readings yet", None
    value = newest.status.value if condition.is_status else newest.values.get(condition.metric)
    verdict = _holds(condition, newest)
    if verdict is None:
        return UNKNOWN, f"cannot tell ({newest.status.value}: {newest.reason})", value
    if not verdict:
        return FAIL, f"{_shown(condition, value)} now", value
    if not condition.hold:
        return PASS, "holds", value
    since = _held_since(condition, history, target, newest, readings, memo)
    held = (now - since).total_seconds()
    if held >= condition.hold:
        return PASS, f"holds for {format_duration(held)}", value
    return PENDING, f"holds for {format_duration(held)} of {format_duration(condition.hold)}", value


def _held_since(condition: Condition, history: ReadingHistory, target: str, newest: Reading,
                older: Iterator[Reading], memo: dict | None) -> datetime:
    """When the run of holding readings that ends with `newest` began (the oldest kept one at most).
    With a memo: when the reading before `newest` is the one last judged and held, the run is the
    same one, so its start is reused instead of walking back again (the result is the same)."""
    key = (condition, target)
    known = memo.get(key) if memo is not None else None
    if known is not None and known[0] is newest:
        since = known[1]
    elif known is not None and next(older, None) is known[0]:
        since = known[1]
    else:
        since = newest.observed_at
        for reading in history.newest_first(condition.panel, target):
            if reading is newest:
                continue
            if _holds(condition, reading) is not True:
                break
            since = reading.observed_at
    oldest = next(iter(history.oldest_first(condition.panel, target)), newest)
    since = max(since, oldest.observed_at)  # readings past the kept window are gone, as for the walk
    if memo is not None:
        memo[key] = (newest, since)
    return since


def _shown(condition: Condition, value: Any) -> str:
    if condition.is_status:
        return f"status {value}"
    metric = condition.metric
    return f"{metric_word(metric)} {format_metric(metric, value)}, needs {condition.op} {format_metric(metric, condition.value)}"
