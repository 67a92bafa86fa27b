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


class TrafficRow(CellRow):
    COLUMNS = (Column("badge", 10), Column("name", 11), Column("errors", 8), Column("p95", 8), Column("rate", 9),
               Column("spark", 13, pad=1, style="$text-muted", layouts=WIDE_ENOUGH), Column("reason", pad=1))

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.ratios = Buckets(SPARK_WIDTH)
        self.steady = Steady(floors={"error_ratio": 0.001})  # a tenth of a point: noise at launch-day volumes
        self.show({"badge": badge(None), "name": short_name(target, 10), "reason": ellipsis("waiting for data", MUTED)})

    def backfill(self, points: list[tuple[datetime, dict[str, float | None]]]) -> None:
        """Seed the sparkline with history from the source, so it is full at once."""
        for at, values in points[-SPARK_WIDTH:]:
            self.ratios.add(at, values.get("error_ratio"))
        self.show({"spark": styled(self.ratios.text())})

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        values = reading.values
        self.ratios.add(reading.observed_at, values.get("error_ratio"))
        shown = self.steady.hold(reading.status, {name: values.get(name) for name in
                                                  ("error_ratio", "p95_seconds", "rate_rps")})
        self.show({
            "badge": badge(reading.status),
            "errors": _percent(shown["error_ratio"]),
            "p95": styled(format_latency(shown["p95_seconds"]).rjust(7)),
            "rate": styled(_rate(shown["rate_rps"]).rjust(8)),
            "spark": styled(self.ratios.text()),
            "reason": _detail(reading),
        })


class TrafficPanel(RowsPanel):
    ROW = TrafficRow
    TITLE = "Traffic"
