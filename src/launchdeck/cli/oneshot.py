"""`launchdeck check`: the engine run once over every configured probe; a table or JSON, and an exit code
for cron and CI (a one-shot run, not the checklists).

Every cell is a `Text` of `visible(...)`: a service name, a deck name or a command's output in a
reason is data, never Rich markup (`[/]` raised, and a crashed check exited 1, which CI reads as
"warn") and never a control sequence for the terminal."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from launchdeck.core.config import Config
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.plain import visible
from launchdeck.core.model import Reading, Status, Verdict
from launchdeck.probes import build_probes
from launchdeck.probes.base import Probe
from launchdeck.probes.backups.freshness import age_words
from launchdeck.core.units import format_duration, format_latency
from launchdeck.engine.engine import RATE_GAP, Engine

NOTHING_CONFIGURED = "nothing is configured to watch: add [[services]], [[traffic]], [[containers]] or [[backups]]"
STATUS_STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.CRIT: "bold red", Status.UNKNOWN: "magenta"}


async def run_check(config: Config, probes: list[Probe] | None = None,
                    rate_gap: float = RATE_GAP) -> tuple[Verdict, list[Reading]]:
    """The dashboard's engine, run once on this loop: the same gate, stall re-takes and judgement."""
    probes = build_probes(config) if probes is None else probes
    if not probes:
        return Verdict(Status.UNKNOWN, (NOTHING_CONFIGURED,)), []
    snapshot = await Engine(config, probes).run_once(rate_gap)
    return snapshot.verdict, list(snapshot.readings.values())


def report_json(verdict: Verdict, readings: list[Reading]) -> str:
    document: dict[str, Any] = verdict.to_json()
    document["readings"] = [r.to_json() for r in readings]
    return json.dumps(document, indent=2, default=str)


def measure(reading: Reading) -> str:
    """The number that matters for a row, since reasons carry none: latency, error ratio and p95,
    CPU, the newest backup's age."""
    v = reading.values
    if v.get("latency_seconds") is not None:
        return format_latency(v["latency_seconds"])
    if reading.panel == "traffic":
        ratio, p95 = v.get("error_ratio"), v.get("p95_seconds")
        parts = [f"{ratio * 100:.2f}%" if ratio is not None else "", format_latency(p95) if p95 is not None else ""]
        return " ".join(p for p in parts if p)
    if reading.panel == "containers" and v.get("cpu_percent") is not None:
        return f"cpu {v['cpu_percent']:.1f}%"
    if reading.panel == "backups" and v.get("age_seconds") is not None:
        return f"age {age_words(v['age_seconds'])}"
    return ""


def plain(text: object, style: str = "") -> Text:
    """People's text for a Rich cell or line: a str there would be parsed as markup."""
    return Text(visible(text), style=style)


def report_table(config: Config, verdict: Verdict, readings: list[Reading], console: Console) -> None:
    table = Table(title=plain(f"{config.deck.name} · {config.deck.environment}"), title_justify="left")
    for column in ("panel", "target", "status", "measure", "reason"):
        table.add_column(column, no_wrap=column != "reason")
    for reading in readings:
        table.add_row(plain(reading.panel), plain(reading.target),
                      plain(reading.status.value, STATUS_STYLE[reading.status]), plain(measure(reading)),
                      plain(reading.reason))
    console.print(table)
    style = STATUS_STYLE[verdict.status]
    line = Text.assemble("verdict: ", (verdict.word.upper(), style))
    if verdict.reasons and verdict.status is not Status.OK:
        more = f" (+{len(verdict.reasons) - 1} more)" if len(verdict.reasons) > 1 else ""
        line.append(visible(f"  {verdict.reasons[0]}{more}"))
    console.print(line)


def check(config: Config, as_json: bool, console: Console | None = None, rate_gap: float = RATE_GAP) -> int:
    """Run the check, print it, return the exit code (0 ok, 1 warn, 2 crit/unknown). A check that
    fails unexpectedly is one line and 2, never Python's exit 1: CI reads 1 as "warn"."""
    try:
        return _check(config, as_json, console, rate_gap)
    except (LaunchdeckError, OSError):
        raise  # the CLI's one handler says these in one line, exit 2
    except Exception as error:  # a bug: still never a "warn"
        sys.stderr.write(visible(f"launchdeck: check failed: {type(error).__name__}: {error}") + "\n")
        return 2


def _check(config: Config, as_json: bool, console: Console | None, rate_gap: float) -> int:
    from launchdeck.core.config_actions import watch_warnings  # a deploy's window too short to see a breach

    for words in watch_warnings(config):  # stderr: the table (and --json) on stdout stay as they were
        Console(stderr=True).print(plain(f"warning: {words}", "yellow"))
    scraped = [t.name for t in config.traffic if t.source == "scrape"]
    if scraped and not as_json:  # said before the wait, so a pause of seconds is not a mystery
        (console or Console()).print(plain(f"traffic from /metrics ({', '.join(scraped)}): two scrapes "
                                           f"{format_duration(rate_gap)} apart (--rate-gap)", "dim"))
    verdict, readings = asyncio.run(run_check(config, rate_gap=rate_gap))
    if as_json:
        print(report_json(verdict, readings))
    else:
        report_table(config, verdict, readings, console or Console())
    return verdict.status.exit_code
