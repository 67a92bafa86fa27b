"""Traffic read straight from a service's /metrics, for teams that run no Prometheus.

Each poll GETs the exposition (Prometheus text format), keeps the two metrics the traffic panel
needs, and computes what Prometheus would answer for the default queries:
`sum(rate(http_requests_total{code=~"5.."}[w])) / sum(rate(http_requests_total[w]))` and
`histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[w])))`.

Counter resets are handled per series as each scrape arrives (a restarted process never reads as
a negative or huge rate), so the history holds one reset-corrected total per group (all requests,
5xx, each `le`), not every series: memory does not grow with label cardinality, and thinning old
scrapes to one a minute loses no increase. Summing before rate() equals Prometheus' per-series
sum(rate()) when the series share scrape times, which one /metrics endpoint guarantees; it differs
only for a series born inside the window (its first error, say): Prometheus counts nothing for
that first sample, here its value counts as requests served since the previous scrape.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from typing import Any, Hashable, Iterable, Mapping

from launchdeck.probes.traffic import promql
from launchdeck.core.config import TrafficConfig
from launchdeck.core.model import Clock, Outcome, Status, SystemClock
from launchdeck.core.redact import redact_url
from launchdeck.probes.traffic.judge import BURN_WINDOWS, PANEL, TrafficJudge, TrafficSample, finite
from launchdeck.core.units import format_duration
from launchdeck.probes.services.http import _ssl_context, describe_connect_error

REQUESTS = "http_requests_total"
DECLARED = {"http_requests", REQUESTS}  # the family's name: typed counters lose `_total` in the parser
DURATION_BUCKETS = "http_request_duration_seconds_bucket"
ALL, ERRORS = "all", "5xx"
DEFAULT_TIMEOUT = 3.0
RAW_SECONDS = 3600.0  # every scrape is kept this long (or the window, if longer) ...
THIN_STEP = 60.0  # ... then one a minute ...
KEEP_SECONDS = max(BURN_WINDOWS) + 2 * THIN_STEP  # ... up to the longest SLO window (3 days)
PARSE_IN_THREAD_CHARS = 64 * 1024  # ~2,000 lines, ~25 ms of parsing: more would stall the UI
ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"  # the classic text format, not OpenMetrics


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One scrape, reduced: reset-corrected cumulative totals at `at` (unix seconds)."""

    at: float
    requests: float
    errors: float
    bounds: tuple[float, ...] = ()  # histogram `le` values, ascending (one tuple shared by snapshots)
    buckets: array | tuple[float, ...] = ()  # cumulative count per bound (an array: 3x smaller)

    def bucket(self, bound: float) -> float | None:
        try:
            return self.buckets[self.bounds.index(bound)]
        except ValueError:
            return None


class History:
    """Every snapshot for `raw_seconds`, then the first of each minute, then nothing after `keep_seconds`."""

    def __init__(self, raw_seconds: float, keep_seconds: float = KEEP_SECONDS, step: float = THIN_STEP) -> None:
        self.raw_seconds = raw_seconds
        self.keep_seconds = max(keep_seconds, raw_seconds)
        self.step = step
        self._raw: deque[Snapshot] = deque()
        self._thinned: deque[Snapshot] = deque()

    def __len__(self) -> int:
        return len(self._raw) + len(self._thinned)

    def __iter__(self):
        yield from self._thinned
        yield from self._raw

    def add(self, snapshot: Snapshot) -> None:
        if self._raw and snapshot.at <= self._raw[-1].at:  # a clock that went backwards: keep order
            return
        self._raw.append(snapshot)
        raw_from = snapshot.at - self.raw_seconds
        while self._raw[0].at < raw_from:
            old = self._raw.popleft()
            if not self._thinned or _minute(old.at, self.step) != _minute(self._thinned[-1].at, self.step):
                self._thinned.append(old)
        keep_from = snapshot.at - self.keep_seconds
        while self._thinned and self._thinned[0].at < keep_from:
            self._thinned.popleft()

    @property
    def oldest(self) -> Snapshot | None:
        return self._thinned[0] if self._thinned else (self._raw[0] if self._raw else None)

    def since(self, start: float) -> list[Snapshot]:
        """The snapshots after `start`, oldest first."""
        found: list[Snapshot] = []
        if self._thinned and self._thinned[-1].at > start:
            skip = bisect_right(self._thinned, start, key=_at)
            found.extend(islice(self._thinned, skip, None))
        skip = bisect_right(self._raw, start, key=_at)
        found.extend(islice(self._raw, skip, None))
        return found

    def covers(self, start: float, inside: list[Snapshot]) -> bool:
        """Whether what is retained reaches back to `start`: a snapshot at or before it, or the
        first one inside within the 1.1 intervals where Prometheus would extrapolate all the way."""
        oldest = self.oldest
        if oldest is None or len(inside) < 2:
            return False
        if oldest.at <= start:
            return True
        return inside[0].at - start < 1.1 * (inside[1].at - inside[0].at)


def _at(snapshot: Snapshot) -> float:
    return snapshot.at


def _minute(at: float, step: float) -> int:
    return int(at // step)


class Counters:
    """Per-series cumulative values folded into reset-corrected totals per group.

    A decrease means the series restarted from 0: what it had counted still happened, so its
    previous value moves into the group's carry. A series seen for the first time after the first
    scrape counts in full (its requests happened since the last scrape). A series unseen for
    `forget_after` seconds is folded into the carry and forgotten, bounding memory under churn.
    """

    def __init__(self, forget_after: float) -> None:
        self.forget_after = forget_after
        self._series: dict[Hashable, list[Any]] = {}  # key -> [value, last seen, groups]
        self._carry: dict[Hashable, float] = {}

    def __len__(self) -> int:
        return len(self._series)

    def update(self, observed: Mapping[Hashable, tuple[float, tuple[Hashable, ...]]], at: float) -> dict[Hashable, float]:
        for key, (value, groups) in observed.items():
            entry = self._series.get(key)
            if entry is None:
                self._series[key] = [value, at, groups]
                continue
            if value < entry[0]:
                self._add_carry(entry[2], entry[0])
            entry[0], entry[1] = value, at
        totals = dict(self._carry)
        forget = []
        for key, (value, seen, groups) in self._series.items():
            if at - seen > self.forget_after:
                forget.append(key)
            for group in groups:
                totals[group] = totals.get(group, 0.0) + value
        for key in forget:
            value, _, groups = self._series.pop(key)
            self._add_carry(groups, value)
        return totals

    def _add_carry(self, groups: Iterable[Hashable], value: float) -> None:
        for group in groups:
            self._carry[group] = self._carry.get(group, 0.0) + value


@dataclass(frozen=True)
class Extract:
    """What one exposition holds for us: series key -> (cumulative value, groups it adds to)."""

    series: dict[Hashable, tuple[float, tuple[Hashable, ...]]]
    has_requests: bool


def extract(text: str) -> Extract | str:
    """Parse an exposition with prometheus_client's parser; a short reason string when it is not one.

    Only `http_requests_total` (5xx = label `code` or `status` starting with 5) and the
    `_bucket` series of `http_request_duration_seconds` are kept; `_created` samples are not
    counters and are skipped (prometheus_client exposes them next to every counter).
    """
    from prometheus_client.parser import text_string_to_metric_families

    series: dict[Hashable, tuple[float, tuple[Hashable, ...]]] = {}
    has_requests = False
    try:
        for family in text_string_to_metric_families(text):
            # declared without samples: prometheus_client shows a labelled counter only once used,
            # so a service that has served nothing yet (or just restarted) has no traffic, not no metric
            has_requests = has_requests or family.name in DECLARED
            for sample in family.samples:
                if sample.name == REQUESTS:
                    groups: tuple[Hashable, ...] = (ALL, ERRORS) if _is_error(sample.labels) else (ALL,)
                elif sample.name == DURATION_BUCKETS and "le" in sample.labels:
                    groups = (("le", float(sample.labels["le"])),)
                else:
                    continue
                value = float(sample.value)
                if not math.isfinite(value) or value < 0:
                    continue
                has_requests = has_requests or sample.name == REQUESTS
                series[(sample.name, tuple(sorted(sample.labels.items())))] = (value, groups)
    except Exception as error:  # the parser's errors on arbitrary bytes are not a documented set
        detail = " ".join((str(error) or type(error).__name__).split())
        return f"not Prometheus text format: {detail[:80]}"
    return Extract(series, has_requests)


def _is_error(labels: Mapping[str, str]) -> bool:
    code = labels.get("code", labels.get("status", ""))
    return code.startswith("5")


class ScrapeTrafficProbe:
    """The traffic panel from a bare /metrics endpoint: rates need two scrapes, so it starts unknown."""

    samples_for_rates = 2  # a one-shot run (`check`) scrapes twice, a gap apart

    panel = PANEL

    def __init__(self, spec: TrafficConfig, default_interval: float, clock: Clock | None = None) -> None:
        if not spec.scrape_url:
            raise ValueError(f"traffic {spec.name!r}: the scrape source needs scrape_url")
        self.spec = spec
        self.target = spec.name
        self.timeout = spec.timeout or DEFAULT_TIMEOUT
        self.interval = spec.interval or default_interval
        self.url = spec.scrape_url
        self.display_url = redact_url(spec.scrape_url)
        self.clock = clock or SystemClock()
        # scrape times are wall-clock seconds that advance with the monotonic clock: immune to jumps
        self._epoch = self.clock.now().timestamp() - self.clock.monotonic()
        raw = max(spec.window, RAW_SECONDS)
        self.snapshots = History(raw)
        self._counters = Counters(forget_after=raw)
        self._bounds: tuple[float, ...] = ()
        self._judge = TrafficJudge(spec)
        self._client: Any = None

    def now(self) -> float:
        return self._epoch + self.clock.monotonic()

    async def prepare(self) -> None:
        """Import httpx and build the client before the first scrape, outside any probe's timed window."""
        import httpx

        if self._client is None:
            # one verified SSL context shared by every probe (a redirect may lead to https://): each
            # client building its own cost ~0.1 s of CPU on the engine's thread at start-up, per source
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=True, verify=_ssl_context(True),
                                             headers={"Accept": ACCEPT})

    async def collect(self) -> Outcome:
        import httpx

        await self.prepare()
        at = self.now()  # like Prometheus: a scrape is stamped with the time it started
        try:
            response = await self._client.get(self.url)
        except httpx.TimeoutException:
            return _unknown(f"scrape failed: timeout after {format_duration(self.timeout)}")
        except httpx.HTTPError as error:
            return _unknown(f"scrape failed: {describe_connect_error(error)}")
        except httpx.InvalidURL as error:
            return _unknown(f"scrape failed: invalid URL: {error}")
        if response.status_code != 200:
            return _unknown(f"scrape failed: HTTP {response.status_code}")
        text = response.text
        if len(text) > PARSE_IN_THREAD_CHARS:
            from launchdeck.core.pool import run_blocking

            found = await run_blocking(extract, text, timeout=self.timeout)
        else:
            found = extract(text)
        return self._absorb(found, at)

    def _ingest(self, text: str, at: float) -> Outcome:
        """One scrape's body as if fetched at `at` (unix seconds): tests feed synthetic time this way."""
        return self._absorb(extract(text), at)

    def _absorb(self, found: Extract | str, at: float) -> Outcome:
        if isinstance(found, str):
            return _unknown(f"scrape failed: {found}")
        if not found.has_requests:
            return _unknown(f"no {REQUESTS} at {self.display_url}")
        totals = self._counters.update(found.series, at)
        bounds = tuple(sorted(g[1] for g in totals if isinstance(g, tuple)))
        if bounds != self._bounds:
            self._bounds = bounds
        self.snapshots.add(Snapshot(at, totals.get(ALL, 0.0), totals.get(ERRORS, 0.0), self._bounds,
                                    array("d", (totals[("le", b)] for b in self._bounds))))
        return self._evaluate(at)

    def _evaluate(self, at: float) -> Outcome:
        window = self.spec.window
        inside = self.snapshots.since(at - window)
        if len(inside) < 2:
            scraped = len(self.snapshots)
            if scraped == len(inside):
                reason = f"collecting: {scraped} scrape{'' if scraped == 1 else 's'} so far (rates need 2)"
            else:
                reason = f"collecting: {len(inside)} scrape in the last {format_duration(window)} (rates need 2)"
            return Outcome(Status.UNKNOWN, reason, {"error_ratio": None, "p95_seconds": None,
                                                    "rate_rps": None, "scrapes": scraped})
        requests, ratio = self._rates(inside, at - window, at)
        sample = TrafficSample(
            error_ratio=ratio,
            p95_seconds=self._p95(inside, at - window, at),
            rate_rps=requests,
            # only the SLO verdict reads them, and with 3 days kept they cost a few ms a scrape
            window_error_ratios=({w: self.window_error_ratio(w, at) for w in BURN_WINDOWS}
                                 if self.spec.slo is not None else {}),
        )
        # judged on the scrape's own clock, so `for:` durations and breach times are scrape time
        judged = self._judge.judge(sample, datetime.fromtimestamp(at, timezone.utc))
        return Outcome(judged.status, judged.reason, {**judged.values, "scrapes": len(inside)})

    @staticmethod
    def _rates(inside: list[Snapshot], start: float, end: float) -> tuple[float | None, float | None]:
        """(requests per second, 5xx ratio); the ratio is None when there was no traffic, never 0."""
        requests = promql.rate([(s.at, s.requests) for s in inside], start, end)
        errors = promql.rate([(s.at, s.errors) for s in inside], start, end)
        if not requests or errors is None:
            return requests, None
        return requests, errors / requests

    def window_error_ratio(self, seconds: float, at: float | None = None) -> float | None:
        """5xx ratio over the last `seconds`; None until the history reaches back that far."""
        at = self.now() if at is None else at
        inside = self.snapshots.since(at - seconds)
        if not self.snapshots.covers(at - seconds, inside):
            return None
        return self._rates(inside, at - seconds, at)[1]

    @staticmethod
    def _p95(inside: list[Snapshot], start: float, end: float) -> float | None:
        latest = inside[-1]
        per_bound = []
        for index, bound in enumerate(latest.bounds):
            points = []
            for snapshot in inside:
                if snapshot.bounds is latest.bounds:
                    points.append((snapshot.at, snapshot.buckets[index]))
                else:  # the bucket layout changed inside the window
                    value = snapshot.bucket(bound)
                    if value is not None:
                        points.append((snapshot.at, value))
            bucket_rate = promql.rate(points, start, end)
            if bucket_rate is not None:
                per_bound.append((bound, bucket_rate))
        return finite(promql.histogram_quantile(0.95, per_bound))

    async def history(self, seconds: float = 1800) -> list:
        """Nothing to backfill: a bare /metrics endpoint holds only current totals, no past."""
        return []

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _unknown(reason: str) -> Outcome:
    return Outcome(Status.UNKNOWN, reason, {"error_ratio": None, "p95_seconds": None, "rate_rps": None})
