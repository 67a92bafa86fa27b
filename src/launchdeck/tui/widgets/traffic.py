"""Traffic panel: per service its error ratio, p95 and request rate, an error-ratio sparkline and
the verdict of its thresholds (how long a breach has lasted, SLO burn)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual.content import Content

from launchdeck.core.model import Reading, Status
from launchdeck.engine.tracking import Track
from launchdeck.core.units import format_latency
from launchdeck.tui.palette import MUTED, styled
from launchdeck.tui.widgets.badge import badge
from launchdeck.tui.widgets.rows import WIDE_ENOUGH, Column, CellRow, RowsPanel, Steady, ellipsis, short_name
from launchdeck.tui.widgets.spark import Buckets

SPARK_WIDTH = 12
WARMING_STEP = 10  # seconds: how often "warming up (40 s of 60 s)" changes (each change repaints its cell)


def _percent(value: Any) -> Content:
    if value is None:
        return styled("no data".rjust(7), MUTED)
    return styled(f"{value * 100:.2f}%".rjust(7))


def _rate(rate: float | None) -> str:
    """Decimals only where they matter: 41.2/s flickers every poll, 41/s rarely."""
    if rate is None:
        return "—"
    return f"{rate:.1f}/s" if rate < 10 else f"{rate:.0f}/s"


def _detail(reading: Reading) -> Content:
    """Not ok: the judge's reason. Ok: the SLO burn if there is one; the numbers are in the columns."""
    if reading.status is not Status.OK:
        return ellipsis(reading.reason)
    burn = (reading.values.get("slo_burn") or {}).get("1h")
    if burn is not None:
        return ellipsis(f"SLO burn {burn:.2f}x over 1h", MUTED)
    return ellipsis("within thresholds", MUTED)


def _warming_text(covered: float, window: float | None) -> Content:
    """The rate climbs while its window fills (a rate over 60 s from 20 s of scrapes is a third of the
    truth): said, so the number is not read as traffic growing."""
    step = WARMING_STEP if (window or 0) > 2 * WARMING_STEP else 1  # the text moves every 10 s, not every poll
    return ellipsis(f"warming up ({covered // step * step:.0f} s of {window or 0:.0f} s)", MUTED)


class TrafficRow(CellRow):
    COLUMNS = (Column("badge", 10), Column("name", 11), Column("errors", 8), Column("p95", 8), Column("rate", 9),
               Column("spark", 13, pad=1, style="$text-muted", layouts=WIDE_ENOUGH), Column("reason", pad=1))

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.window: float | None = None  # a /metrics source's rate window: rates are low until it is full
        self.first_at: datetime | None = None  # the first scrape this view saw
        self.ratios = Buckets(SPARK_WIDTH)
        self.steady = Steady(floors={"error_ratio": 0.001})  # a tenth of a point: noise at launch-day volumes
        self.show({"badge": badge(None), "name": short_name(target, 10), "reason": ellipsis("waiting for data", MUTED)})

    def use_scale(self, scale) -> None:
        self.ratios.scale = scale

    SPARK_VALUE = "error_ratio"

    def spark(self) -> Buckets:
        return self.ratios

    def backfill(self, points: list[tuple[datetime, dict[str, float | None]]]) -> None:
        """Seed the sparkline with history from the source, so it is full at once."""
        for at, values in points[-SPARK_WIDTH:]:
            self.ratios.add(at, values.get("error_ratio"))
        self.show({"spark": styled(self.ratios.text())})

    def warming(self, reading: Reading) -> float | None:
        """Seconds of the rate window filled so far, while it is not yet full (None once it is, or for
        a Prometheus source, whose window reaches back before launchdeck started)."""
        if self.window is None or "scrapes" not in reading.values:  # only the /metrics source counts its scrapes
            return None
        self.first_at = self.first_at or reading.observed_at
        covered = (reading.observed_at - self.first_at).total_seconds()
        return covered if covered < self.window else None

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        values = reading.values
        warming = self.warming(reading)
        self.ratios.add(reading.observed_at, values.get("error_ratio"))
        shown = self.steady.hold(reading.status, {name: values.get(name) for name in
                                                  ("error_ratio", "p95_seconds", "rate_rps")})
        self.show({
            "badge": badge(reading.status),
            "errors": _percent(shown["error_ratio"]),
            "p95": styled(format_latency(shown["p95_seconds"]).rjust(7)),
            "rate": styled(_rate(shown["rate_rps"]).rjust(8), MUTED if warming is not None else ""),
            "spark": styled(self.ratios.text()),
            "reason": _warming_text(warming, self.window) if warming is not None and reading.status is Status.OK
            else _detail(reading),
        })


class TrafficPanel(RowsPanel):
    ROW = TrafficRow
    TITLE = "Traffic"

    def __init__(self, targets: list[str], scales=None, windows: dict[str, float] | None = None, **kwargs) -> None:
        """windows: the rate window of each /metrics (scrape) source, which fills after launchdeck starts."""
        super().__init__(targets, scales, **kwargs)
        for target, window in (windows or {}).items():
            if target in self.rows:
                self.rows[target].window = window
