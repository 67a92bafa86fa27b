"""`launchdeck replay FILE`: the dashboard and the timeline on a flight recording, for the post-mortem.

A bad line is listed (its number and why) and skipped, never fatal; a path that is missing, a
directory or a symbolic link is one line and exit 2. With `--config`, the dashboard is laid out as
that config says; without, its panels are the targets the recording holds.
"""

from __future__ import annotations

import sys
from datetime import datetime, time as day_time
from pathlib import Path

import click

from launchdeck.core.config import Config, ConfigError, find_config, load_config
from launchdeck.core.plain import visible, visible_lines

SKIPPED_SHOWN = 20  # corrupt lines listed one by one; the rest counted


def fail(message: str) -> None:
    click.secho(f"launchdeck: {visible(message)}", fg="red", err=True)
    sys.exit(2)


def config_for(recording) -> Config:
    """A stand-in config whose panels are the recording's targets (nothing is ever polled through it)."""
    name, environment = recording.deck
    targets: dict[str, list[str]] = {}
    for reading in recording.readings:
        names = targets.setdefault(reading.panel, [])
        target = reading.target.split("/", 1)[0] if reading.panel == "containers" else reading.target
        if target not in names:
            names.append(target)
    document = {
        "deck": {"name": name or recording.path.name, "environment": environment or "recorded", "record": False},
        "services": [{"name": t, "kind": "tcp", "host": "recorded", "port": 1} for t in targets.get("services", [])],
        "traffic": [{"name": t, "source": "scrape", "scrape_url": "http://127.0.0.1:1/metrics"}
                    for t in targets.get("traffic", [])],
        "containers": [{"host": host} for host in targets.get("containers", [])],
        "backups": [{"name": t, "kind": "pgbackrest"} for t in targets.get("backups", [])],
    }
    return Config.model_validate(document)


def _at(text: str | None, recording) -> datetime | None:
    """`--at 12:34` or `12:34:56` (on the recording's first day) or a full ISO time."""
    if not text or recording.start is None:
        return None
    try:
        if "T" in text or "-" in text:
            return datetime.fromisoformat(text).astimezone(recording.start.tzinfo)
        return datetime.combine(recording.start.date(), day_time.fromisoformat(text), recording.start.tzinfo)
    except ValueError:
        raise click.BadParameter("a time such as 12:34, 12:34:56 or 2026-01-01T12:34:56+00:00",
                                 param_hint="--at") from None


def summary(recording) -> list[str]:
    """What the recording holds, in a few lines; every skipped line said with its number."""
    lines = []
    for number, why in recording.skipped[:SKIPPED_SHOWN]:
        lines.append(f"{visible(recording.path)}: line {number}: skipped: {visible(why)}")
    if len(recording.skipped) > SKIPPED_SHOWN:
        lines.append(f"{visible(recording.path)}: ... and {len(recording.skipped) - SKIPPED_SHOWN} more lines skipped")
    targets = len({r.key for r in recording.readings})
    span = (f"{recording.start:%Y-%m-%d %H:%M:%S}–{recording.end:%H:%M:%S} UTC" if recording.start is not None
            else "nothing recorded")
    crit = sum(1 for e in recording.events if e.severity.value == "crit" or e.kind == "breach")
    lines.append(f"{visible(recording.path)}: {len(recording.readings)} readings of {targets} targets, "
                 f"{len(recording.events)} events ({crit} incidents), {span}")
    return lines


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="lay the dashboard out as this config does (default: the recording's own targets)")
@click.option("--at", "at", default=None, help="start the cursor here (12:34, 12:34:56 or an ISO time)")
@click.option("--check", is_flag=True, help="only read the recording and say what it holds (no dashboard)")
@click.pass_context
def replay(ctx: click.Context, path: Path, config_path: Path | None, at: str | None, check: bool) -> None:
    """Open the dashboard and timeline on a flight recording, read-only: [ ] step 10 s, { } 1 min,
    n / p jump to the next / previous incident, t the timeline."""
    from launchdeck.engine.replay import RecordingError, ReplayEngine, load_recording

    try:
        recording = load_recording(path)
    except RecordingError as error:
        fail(str(error))
    for line in summary(recording)[:-1]:
        click.secho(line, fg="yellow", err=True)
    click.echo(summary(recording)[-1])
    cursor = _at(at, recording)
    if check:
        return
    if recording.start is None:
        fail(f"{path}: nothing to replay (no reading or event in it)")
    chosen = config_path or (ctx.obj or {}).get("config_path")
    try:
        config = load_config(find_config(chosen)) if chosen else config_for(recording)
    except ConfigError as error:
        fail(f"config error: {visible_lines(error)}")
    from launchdeck.tui.replay import ReplayApp

    ReplayApp(config, ReplayEngine(recording, config), cursor).run()
