"""Traffic from Prometheus: error ratio, p95 and request rate by PromQL, judged by TrafficJudge.

prometheus-api-client is blocking and, by default, dashboard-hostile (no timeout, 3 retries with
backoff), so it is built with no retries and an explicit timeout, imported lazily (start-up cost)
and called only through launchdeck's daemon-thread pool (blocking.run_blocking). Every query of
one poll is evaluated at the same instant (`time=`), so the numbers of a reading agree with each
other and with anyone asking Prometheus the same PromQL at that time.

Decisions worth knowing:
- The default error ratio's numerator is `(sum(...5xx...) or vector(0))`: a service that has never
  answered 5xx has no 5xx series at all, and without `or vector(0)` its ratio would be "no data"
  instead of 0 %. With no requests the denominator is empty or 0, so the ratio stays None.
- SLO burn windows reuse the error-ratio expression with its range selector swapped. For a custom
  `error_ratio` override, every range selector equal to `window` (e.g. `[5m]`, `[300s]`) is swapped;
  an override without one gets no SLO windows, and the SLO verdict stays unknown.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from datetime import datetime, timezone
from typing import Any, Callable

from launchdeck.core.config import PrometheusConfig, TrafficConfig
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.model import Clock, Outcome, Status, SystemClock
from launchdeck.core.pool import run_blocking
from launchdeck.probes.services.http import describe_connect_error
from launchdeck.probes.traffic.judge import (
    BURN_WINDOWS,
    PANEL,
    TrafficJudge,
    TrafficSample,
    finite,
)

# query key -> the reading's value name
MAIN = {"error_ratio": "error_ratio", "p95": "p95_seconds", "rate": "rate_rps"}
NO_DATA = {"error_ratio": None, "p95_seconds": None, "rate_rps": None}

_PROMQL_UNITS = (("y", 365 * 86400_000), ("w", 7 * 86400_000), ("d", 86400_000), ("h", 3600_000),
                 ("m", 60_000), ("s", 1000), ("ms", 1))
_DURATION = re.compile(r"(\d+)(ms|[smhdwy])")
_RANGE = re.compile(r"\[\s*((?:\d+(?:ms|[smhdwy]))+)\s*\]")  # a range selector; subqueries ([5m:1m]) excluded


class PrometheusError(LaunchdeckError):
    """A failed query, already worded for the panel (Prometheus' errorType and error when sent)."""
    title = "prometheus"


def promql_duration(seconds: float) -> str:
    """300 -> "5m", 90 -> "1m30s", 0.5 -> "500ms": the form PromQL range selectors accept."""
    remaining = max(1, round(seconds * 1000))
    parts = []
    for unit, size in _PROMQL_UNITS[1:]:  # no "y": a year is 365d to Prometheus, not to readers
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_promql_duration(text: str) -> float | None:
    """Seconds of a PromQL duration ("5m", "1h30m", "300s"), or None if it is not one."""
    compact = text.strip()
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        return None
    sizes = dict(_PROMQL_UNITS)
    return sum(int(n) * sizes[u] for n, u in parts) / 1000


def with_range(expr: str, window: float, new_window: float) -> str | None:
    """`expr` with every range selector lasting `window` set to `new_window`; None if it has none."""
    found = False

    def swap(match: re.Match[str]) -> str:
        nonlocal found
        if parse_promql_duration(match.group(1)) != window:
            return match.group(0)
        found = True
        return f"[{promql_duration(new_window)}]"

    swapped = _RANGE.sub(swap, expr)
    return swapped if found else None


def default_queries(spec: TrafficConfig) -> dict[str, str]:
    """PromQL per metric: error_ratio, p95, rate (overrides win), plus error_ratio_<w> per SLO window."""
    job = json.dumps(spec.job or spec.name)  # a PromQL string literal: quotes and backslashes escaped
    w = promql_duration(spec.window)
    queries = {
        "error_ratio": spec.error_ratio or (
            f'(sum(rate(http_requests_total{{job={job},code=~"5.."}}[{w}])) or vector(0))'
            f' / sum(rate(http_requests_total{{job={job}}}[{w}]))'),
        "p95": spec.p95 or (
            f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{job={job}}}[{w}])))"),
        "rate": spec.rate or f"sum(rate(http_requests_total{{job={job}}}[{w}]))",
    }
    if spec.slo is not None:
        for window in BURN_WINDOWS:
            expr = with_range(queries["error_ratio"], spec.window, window)
            if expr is not None:
                queries[f"error_ratio_{promql_duration(window)}"] = expr
    return queries


def describe_api_error(error: BaseException) -> str:
    """PrometheusApiClientException("HTTP Status Code 400 (b'{...}')") -> "bad_data: 1:8: parse error: ..."."""
    text = str(error)
    match = re.fullmatch(r"HTTP Status Code (\d+) \((b'.*'|b\".*\")\)", text, re.DOTALL)
    if match is None:
        return text or type(error).__name__
    try:
        body = ast.literal_eval(match.group(2)).decode("utf-8", "replace")
    except (ValueError, SyntaxError):
        body = match.group(2)
    return describe_error_body(int(match.group(1)), body)


def describe_error_body(status: int, body: str) -> str:
    """Prometheus' own words when the body is its JSON error, else the status and a snippet."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("errorType"):
        return f"{data['errorType']}: {data.get('error', '')}".rstrip(": ")
    snippet = " ".join(body.split())[:80]
    return f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}"


def scalar_value(result: Any) -> float | None:
    """The single number of an instant-query result; None when empty or NaN/±Inf.

    Raises PrometheusError when the vector holds several series: summing them silently could
    hide a query that is not what its author meant.
    """
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return finite(result[1])  # resultType scalar: [time, "value"]
    if not isinstance(result, list):
        raise PrometheusError(f"unexpected answer: {str(result)[:80]}")
    if not result:
        return None
    if len(result) > 1:
        raise PrometheusError(f"query returned {len(result)} series; aggregate it with sum()")
    value = result[0].get("value") if isinstance(result[0], dict) else None
    if not isinstance(value, list) or len(value) != 2:
        raise PrometheusError(f"unexpected answer: {str(result[0])[:80]}")
    return finite(value[1])


def _guarded(call: Callable[[], Any]) -> Any:
    """Run a client call (in a pool thread), turning library errors into short panel reasons."""
    import requests
    from prometheus_api_client import PrometheusApiClientException

    try:
        return call()
    except PrometheusApiClientException as error:
        raise PrometheusError(describe_api_error(error)) from None
    except requests.Timeout:
        raise TimeoutError("prometheus did not answer in time") from None
    except requests.ConnectionError as error:
        raise PrometheusError(f"prometheus unreachable: {describe_connect_error(error)}") from None
    except requests.JSONDecodeError:
        raise PrometheusError("prometheus answered with something that is not JSON (is the url right?)") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        raise PrometheusError("prometheus url is not a valid http(s) URL (check [prometheus] url)") from None
    except requests.RequestException as error:  # its text may carry the URL: the type says enough
        raise PrometheusError(f"prometheus request failed: {type(error).__name__}") from None
    except (KeyError, TypeError) as error:
        raise PrometheusError(f"unexpected answer from prometheus ({type(error).__name__}: {error})") from None


class PrometheusTrafficProbe:
    """One traffic target: every query of a poll in parallel, at one evaluation time."""

    panel = PANEL

    def __init__(self, spec: TrafficConfig, prom: PrometheusConfig, default_interval: float,
                 clock: Clock | None = None) -> None:
        self.spec = spec
        self.prom = prom
        self.target = spec.name
        self.timeout = spec.timeout or prom.timeout
        self.interval = spec.interval or default_interval
        self.queries = default_queries(spec)
        self._windows = {f"error_ratio_{promql_duration(w)}": w for w in BURN_WINDOWS}
        self._judge = TrafficJudge(spec)  # one per probe: it remembers since when a breach lasts
        self._clock = clock or SystemClock()
        self._client: Any = None

    def _make_client(self) -> Any:
        """Built in a pool thread: importing requests and the client costs ~0.15 s of event loop."""
        from prometheus_api_client.prometheus_connect import PrometheusConnect
        from urllib3.util.retry import Retry

        # No retries (the library's default: 3 with backoff, 6 s for a 503); the request timeout
        # frees an abandoned pool thread about when the engine gives up on the poll.
        return PrometheusConnect(url=self.prom.url.rstrip("/"), retry=Retry(total=0), timeout=self.timeout)

    async def _ready(self) -> Any:
        if self._client is None:
            client = await run_blocking(self._make_client, timeout=self.timeout)
            if self._client is None:
                self._client = client
            else:  # a concurrent history() call won the race
                client.close()
        return self._client

    @staticmethod
    def _instant(client: Any, expr: str, at: float) -> Any:
        return _guarded(lambda: client.custom_query(expr, params={"time": f"{at:.3f}"}))

    @staticmethod
    def _range(client: Any, expr: str, start: datetime, end: datetime, step: int) -> Any:
        return _guarded(lambda: client.custom_query_range(expr, start, end, step=str(step)))

    async def collect(self) -> Outcome:
        client = await self._ready()
        now = self._clock.now()
        texts = list(dict.fromkeys(self.queries.values()))  # the 5m SLO window is the main query
        answers = await asyncio.gather(
            *(run_blocking(self._instant, client, text, now.timestamp(), timeout=self.timeout) for text in texts),
            return_exceptions=True)
        by_text = dict(zip(texts, answers))
        main: dict[str, float | None] = {}
        for key, value_name in MAIN.items():
            try:
                main[value_name] = scalar_value(_unwrap(by_text[self.queries[key]]))
            except PrometheusError as error:
                return Outcome(Status.UNKNOWN, _located(str(error), key), NO_DATA)
        ratios: dict[float, float | None] = {}
        slo_problems: list[str] = []
        for key, window in self._windows.items():
            if key not in self.queries:
                continue
            try:
                ratios[window] = scalar_value(_unwrap(by_text[self.queries[key]]))
            except (PrometheusError, TimeoutError) as error:
                ratios[window] = None
                slo_problems.append(f"{promql_duration(window)}: {error}")
        sample = TrafficSample(main["error_ratio"], main["p95_seconds"], main["rate_rps"], ratios)
        outcome = self._judge.judge(sample, now)
        if not slo_problems:
            return outcome
        note = "SLO windows failed: " + "; ".join(slo_problems)
        return Outcome(outcome.status, f"{outcome.reason}; {note}", {**outcome.values, "slo_errors": note})

    async def history(self, seconds: float = 1800) -> list[tuple[datetime, dict[str, float | None]]]:
        """The last `seconds` of error_ratio, p95_seconds and rate_rps (~60 points) for backfill.

        Points sit on a regular grid (whole-second step); a step without data (before the first
        scrape, or no traffic) is there with None values, so a sparkline shows a gap, not a zero.
        Errors raise (PrometheusError with a short reason, or TimeoutError): the caller reports them.
        """
        client = await self._ready()
        step = max(1, round(seconds / 60))
        end = int(self._clock.now().timestamp())
        start = end - int(seconds) // step * step
        bounds = (datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
        keys = list(MAIN)
        answers = await asyncio.gather(
            *(run_blocking(self._range, client, self.queries[key], *bounds, step, timeout=self.timeout) for key in keys))
        points = {float(stamp): dict(NO_DATA) for stamp in range(start, end + 1, step)}
        for key, result in zip(keys, answers):
            if len(result) > 1:
                raise PrometheusError(_located(f"query returned {len(result)} series; aggregate it with sum()", key))
            for stamp, text in (result[0].get("values", []) if result else []):
                points.setdefault(float(stamp), dict(NO_DATA))[MAIN[key]] = finite(text)
        return [(datetime.fromtimestamp(stamp, timezone.utc), values) for stamp, values in sorted(points.items())]

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()  # closes idle pooled sockets only: no network wait


def _unwrap(answer: Any) -> Any:
    """gather(return_exceptions=True) hands back errors as values: raise them here, one at a time."""
    if isinstance(answer, BaseException):
        raise answer
    return answer


def _located(reason: str, key: str) -> str:
    """Name the query when the fault is in the PromQL itself, not in reaching Prometheus."""
    if reason.startswith(("prometheus ", "HTTP ")):
        return reason
    return f"{reason} ({key} query)"
