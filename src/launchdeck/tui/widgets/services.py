"""Services panel: per health target its status, latency, HTTP code, a latency sparkline, since
when it has been in this state (and flaps), and the reason."""

from __future__ import annotations

from launchdeck.core.model import Reading, Status
from launchdeck.engine.tracking import Track
from launchdeck.core.units import format_latency
from launchdeck.tui.palette import MUTED, styled
from launchdeck.tui.widgets.badge import badge
from launchdeck.tui.widgets.rows import WIDE_ENOUGH, Column, CellRow, RowsPanel, Steady, ellipsis, short_name, since_text
from launchdeck.tui.widgets.spark import Buckets

SPARK_WIDTH = 10


class ServiceRow(CellRow):
    COLUMNS = (Column("badge", 10), Column("name", 13), Column("latency", 7), Column("code", 5, pad=1),
               Column("spark", 11, pad=1, style="$text-muted", layouts=WIDE_ENOUGH), Column("since", 9, pad=1),
               Column("reason", pad=1))

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.latencies = Buckets(SPARK_WIDTH)
        self.steady = Steady(floors={"latency": 0.005})  # 7ms vs 9ms means nothing to the on-call
        self.show({"badge": badge(None), "name": short_name(target, 12), "reason": ellipsis("waiting for the first poll", MUTED)})

    def use_scale(self, scale) -> None:
        self.latencies.scale = scale

    SPARK_VALUE = "latency_seconds"

    def spark(self) -> Buckets:
        return self.latencies

    def show_reading(self, reading: Reading, track: Track | None) -> None:
        latency = reading.values.get("latency_seconds")
        self.latencies.add(reading.observed_at, latency)
        shown = self.steady.hold(reading.status, {"latency": latency})
        code = reading.values.get("http_status")
        # an ok row's reason would repeat the latency and code columns: show where it points instead
        where = str(reading.values.get("url") or reading.values.get("address") or "").split("://", 1)[-1]
        detail = str(where) if reading.status is Status.OK and where else reading.reason
        self.show({
            "badge": badge(reading.status),
            "latency": styled(format_latency(shown["latency"]).rjust(7)),
            "code": styled(str(code) if code is not None else "", MUTED),
            "spark": styled(self.latencies.text()),
            "since": since_text(reading, track),
            "reason": ellipsis(detail),
        })


class ServicesPanel(RowsPanel):
    ROW = ServiceRow
    TITLE = "Services"
