"""`launchdeck check`: every configured probe once, a table or JSON, and an exit code for cron and CI."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .config import Config
from .model import Reading, Status, Verdict
from .monitor import Probe, collect_all
from .probes import build_probes, close_probes
from .redact import Scrubber
from .units import format_latency

STATUS_STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.CRIT: "bold red", Status.UNKNOWN: "magenta"}


async def run_check(config: Config, probes: list[Probe] | None = None) -> tuple[Verdict, list[Reading]]:
    probes = build_probes(config) if probes is None else probes
    try:
        readings = await collect_all(probes, scrub=Scrubber(config.secrets))
    finally:
        await close_probes(probes)
    return Verdict.from_readings(readings), readings


def report_json(verdict: Verdict, readings: list[Reading]) -> str:
    document: dict[str, Any] = verdict.to_json()
    document["readings"] = [r.to_json() for r in readings]
    return json.dumps(document, indent=2, default=str)


def report_table(config: Config, verdict: Verdict, readings: list[Reading], console: Console) -> None:
    table = Table(title=f"{config.deck.name} · {config.deck.environment}", title_justify="left")
    for column in ("panel", "target", "status", "latency", "reason"):
        table.add_column(column, no_wrap=column != "reason")
    for reading in readings:
        latency = reading.values.get("latency_seconds")
        # Text, not markup: a reason can hold a command's output, and "[/bold]" in it must print as is
        table.add_row(reading.panel, reading.target, Text(reading.status.value, style=STATUS_STYLE[reading.status]),
                      format_latency(latency) if latency is not None else "", Text(reading.reason))
    console.print(table)
    style = STATUS_STYLE[verdict.status]
    console.print(f"verdict: [{style}]{verdict.word.upper()}[/]")


def check(config: Config, as_json: bool, console: Console | None = None) -> int:
    """Run the check, print it, return the exit code (0 ok, 1 warn, 2 crit/unknown)."""
    verdict, readings = asyncio.run(run_check(config))
    if as_json:
        print(report_json(verdict, readings))
    else:
        report_table(config, verdict, readings, console or Console())
    return verdict.status.exit_code
