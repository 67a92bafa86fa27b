"""Judging traffic the same way whatever the source (Prometheus or a direct /metrics scrape).

A source produces a TrafficSample; TrafficJudge turns successive samples into readings:
thresholds with Prometheus-style `for:` (crit only once a breach has lasted that long, warn while
it is pending), how long each breach has lasted, "no traffic" as its own state (never 0 % errors),
and the SRE workbook's multiwindow, multi-burn-rate SLO verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from launchdeck.core.config import TrafficConfig
from launchdeck.core.model import Outcome, Status, worst
from launchdeck.core.units import format_duration, format_latency, format_minutes

PANEL = "traffic"

# (long window, short window, burn-rate factor, level): page fast burns, ticket slow ones
BURN_RULES = (
    (3600.0, 300.0, 14.4, "page"),
    (21600.0, 1800.0, 6.0, "page"),
    (259200.0, 21600.0, 1.0, "ticket"),
)
BURN_WINDOWS = tuple(sorted({w for rule in BURN_RULES for w in rule[:2]}))


@dataclass(frozen=True)
class TrafficSample:
    """One observation. None means "no data" (empty vector, NaN, no requests): never zero."""

    error_ratio: float | None
    p95_seconds: float | None
    rate_rps: float | None
    window_error_ratios: Mapping[float, float | None] = field(default_factory=dict)  # for SLO burn rates


def finite(value: Any) -> float | None:
    """A float, or None for NaN, ±Inf, missing, or not a number (Prometheus sends "NaN" as text)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class SloVerdict:
    level: str  # ok | ticket | page | unknown
    burn: dict[str, float | None]  # window label -> burn rate
    reason: str


def burn_verdict(objective: float, ratios: Mapping[float, float | None]) -> SloVerdict:
    """Multiwindow, multi-burn-rate alerting (SRE workbook ch. 5): both windows of a rule must burn."""
    budget = 1.0 - objective
    burn = {format_duration(w): (None if ratios.get(w) is None or budget <= 0 else ratios[w] / budget)
            for w in BURN_WINDOWS}
    fired, missing = [], []
    for long, short, factor, level in BURN_RULES:
        long_burn, short_burn = burn[format_duration(long)], burn[format_duration(short)]
        if long_burn is None or short_burn is None:
            missing.append(format_duration(long if long_burn is None else short))
            continue
        if long_burn >= factor and short_burn >= factor:
            fired.append((level, f"burning {long_burn:.1f}x budget over {format_duration(long)} "
                                 f"and {short_burn:.1f}x over {format_duration(short)} (≥ {factor:g}x)"))
    target = f"SLO {objective * 100:g}%"
    for level in ("page", "ticket"):
        for fired_level, why in fired:
            if fired_level == level:
                return SloVerdict(level, burn, f"{target}: {why} → {level}")
    if missing and len(missing) == len(BURN_RULES):
        return SloVerdict("unknown", burn, f"{target}: no error ratio yet over {', '.join(sorted(set(missing)))}")
    fastest = burn[format_duration(BURN_RULES[0][0])]
    shown = f"{fastest:.2f}x budget over 1h" if fastest is not None else "burn unknown over 1h"
    return SloVerdict("ok", burn, f"{target}: {shown}")


class TrafficJudge:
    """Stateful across polls: remembers since when each metric has been past its thresholds."""

    def __init__(self, spec: TrafficConfig) -> None:
        self.spec = spec
        self._warn_since: dict[str, datetime | None] = {"error_ratio": None, "p95": None}
        self._crit_since: dict[str, datetime | None] = {"error_ratio": None, "p95": None}

    def judge(self, sample: TrafficSample, now: datetime) -> Outcome:
        values: dict[str, Any] = {"error_ratio": sample.error_ratio, "p95_seconds": sample.p95_seconds,
                                  "rate_rps": sample.rate_rps}
        findings: list[tuple[Status, str]] = []
        if sample.rate_rps is not None and sample.rate_rps == 0 or (sample.error_ratio is None and sample.rate_rps is None):
            findings.append((Status.WARN, f"no traffic in the last {format_duration(self.spec.window)}"))
        for metric, value, shown in (
            ("error_ratio", sample.error_ratio, _percent),
            ("p95", sample.p95_seconds, format_latency),
        ):
            status, reason, breach = self._threshold(metric, value, shown, now)
            values[f"{metric}_breach_seconds"] = breach
            if status is not Status.OK:
                findings.append((status, reason))
        if self.spec.slo is not None:
            slo = burn_verdict(self.spec.slo.objective, sample.window_error_ratios)
            values["slo_burn"] = slo.burn
            values["slo_level"] = slo.level
            level_status = {"page": Status.CRIT, "ticket": Status.WARN}.get(slo.level)
            if level_status is not None:
                findings.append((level_status, slo.reason))
        if not findings:
            return Outcome(Status.OK, _summary(sample), values)
        status = worst(s for s, _ in findings)
        reasons = [r for s, r in findings if s is status] + [r for s, r in findings if s is not status]
        return Outcome(status, "; ".join(reasons), values)

    def _threshold(self, metric: str, value: float | None, shown, now: datetime) -> tuple[Status, str, float | None]:
        """Status, reason, and how long the current breach has lasted (None when there is none)."""
        warn, crit = getattr(self.spec, f"{metric}_warn"), getattr(self.spec, f"{metric}_crit")
        hold = getattr(self.spec, f"{metric}_for")
        label = "error ratio" if metric == "error_ratio" else "p95"
        if value is None or value <= warn:
            self._warn_since[metric] = self._crit_since[metric] = None
            return Status.OK, "", None
        warn_since = self._warn_since[metric] = self._warn_since[metric] or now
        lasted = (now - warn_since).total_seconds()
        if value <= crit:
            self._crit_since[metric] = None
            return Status.WARN, f"{label} > {shown(warn)} for {format_minutes(lasted)}", lasted
        crit_since = self._crit_since[metric] = self._crit_since[metric] or now
        held = (now - crit_since).total_seconds()
        if held >= hold:
            return Status.CRIT, f"{label} > {shown(crit)} for {format_minutes(held)}", lasted
        return (Status.WARN, f"{label} > {shown(crit)} for {format_minutes(held)} "
                             f"(crit after {format_duration(hold)})", lasted)


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _summary(sample: TrafficSample) -> str:
    parts = []
    if sample.error_ratio is not None:
        parts.append(f"errors {_percent(sample.error_ratio)}")
    if sample.p95_seconds is not None:
        parts.append(f"p95 {format_latency(sample.p95_seconds)}")
    if sample.rate_rps is not None:
        parts.append(f"{sample.rate_rps:.1f} req/s")
    return ", ".join(parts) or "no data"
