"""`launchdeck checklist show`, `signoff add|list|verify`, `report`: checklists from the shell.

A pipeline signs "tests passed" through `signoff add`: the same rule, record, durability and chain
as a person in the TUI.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from launchdeck.core.config import ConfigError, find_config, load_config

FILE = click.Path(path_type=Path, dir_okay=False)


def fail(message: str) -> None:
    click.secho(f"launchdeck: {message}", fg="red", err=True)
    sys.exit(2)


def _checklist(path: Path):
    from launchdeck.checklists.parser import ChecklistError, load_checklist

    try:
        return load_checklist(path)
    except ChecklistError as error:
        fail(str(error))


@click.group()
def checklist() -> None:
    """Read Markdown launch checklists."""


@checklist.command("show")
@click.argument("path", type=FILE)
@click.option("--json", "as_json", is_flag=True)
def checklist_show(path: Path, as_json: bool) -> None:
    """The parsed items of a checklist file, by phase."""
    from launchdeck.checklists.parser import item_to_json

    parsed = _checklist(path)
    if as_json:
        click.echo(json.dumps({"source": str(path), "title": parsed.title,
                               "items": [item_to_json(i) for i in parsed.items]}, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{parsed.title} ({len(parsed.items)} items)", title_justify="left")
    for column in ("phase", "", "item", "id"):
        table.add_column(column, overflow="fold")
    for item in parsed.items:
        table.add_row(item.phase, "[x]" if item.checked else "[ ]", "  " * item.level + item.text, item.id)
    Console().print(table)


@click.group()
def signoff() -> None:
    """Sign checklist items and check the ledger."""


def _live_history(config_path: Path | None):
    """One round of every configured probe, as history for evidence (None without a config)."""
    from launchdeck.cli.oneshot import run_check
    from launchdeck.core.history import ReadingHistory

    try:
        config = load_config(find_config(config_path))
    except ConfigError as error:
        if config_path is not None:
            fail(f"config error: {error}")
        return None
    _, readings = asyncio.run(run_check(config))
    history = ReadingHistory()
    for reading in readings:
        history.add(reading)
    return history


@signoff.command("add")
@click.argument("ledger", type=FILE)
@click.argument("item_id")
@click.option("--checklist", "checklist_path", type=FILE, required=True, help="the Markdown file the item is in")
@click.option("--note", default=None, help="a note kept with the sign-off")
@click.option("--waive", is_flag=True, help="waive the item instead of signing it (needs --reason)")
@click.option("--unsign", is_flag=True, help="withdraw a sign-off (needs --reason)")
@click.option("--reason", default=None, help="why: required to waive, unsign or override evidence")
@click.option("--override", is_flag=True, help="sign although the item's live evidence is not passing")
@click.option("--config", "config_path", type=FILE, default=None, help="config whose probes give live evidence")
def signoff_add(ledger: Path, item_id: str, checklist_path: Path, note: str | None, waive: bool, unsign: bool,
                reason: str | None, override: bool, config_path: Path | None) -> None:
    """Record a sign-off (or waiver, or withdrawal) of ITEM_ID, durably, in LEDGER."""
    from launchdeck.audit.ledger import Ledger, LedgerError
    from launchdeck.checklists.signing import Request, SignoffRefused, sign
    from launchdeck.checklists.state import checklist_name
    from launchdeck.core.model import SystemClock

    if waive and unsign:
        fail("choose one of --waive and --unsign")
    parsed = _checklist(checklist_path)
    item = parsed.get(item_id)
    if item is None:
        close = difflib.get_close_matches(item_id, [i.id for i in parsed.items], n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else "; list ids with `launchdeck checklist show`"
        fail(f"{checklist_path}: no item {item_id!r}{hint}")
    kind = "waive" if waive else "unsign" if unsign else "sign"
    text = reason if kind != "sign" else note
    history = _live_history(config_path) if kind == "sign" and item.verify else None
    request = Request(checklist_name(parsed), item, kind, text, reason if override else None)
    try:
        record = sign(Ledger(ledger), request, history, SystemClock().now())
    except (SignoffRefused, ValueError, LedgerError) as error:
        fail(f"not recorded: {error}")
    click.echo(f"{record.kind} #{record.seq} {record.item_id} by {record.operator['login']} at {record.time}")


@signoff.command("list")
@click.argument("ledger", type=FILE)
@click.option("--json", "as_json", is_flag=True)
def signoff_list(ledger: Path, as_json: bool) -> None:
    """Every record in the ledger, oldest first."""
    from launchdeck.audit.ledger import Ledger
    from launchdeck.checklists.state import operator_label

    if not ledger.exists() and not ledger.is_symlink():
        fail(f"{ledger}: no such ledger")
    records = Ledger(ledger).records()
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{ledger} ({len(records)} records)", title_justify="left")
    for column in ("seq", "time", "kind", "item", "by", "reason"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(str(r.seq), r.time, r.kind, f"{r.checklist}: {r.item_text}", operator_label(r), r.reason or "")
    Console().print(table)


@signoff.command("verify")
@click.argument("ledger", type=FILE)
def signoff_verify(ledger: Path) -> None:
    """Check the hash chain: exit 0 intact, 1 with the first bad line and why."""
    from launchdeck.audit.ledger import verify

    if not ledger.exists() and not ledger.is_symlink():  # a link is refused by verify itself, in words
        fail(f"{ledger}: no such ledger")
    result = verify(ledger)
    if result.ok:
        click.echo(f"{ledger}: ok, {result.records} records, chain intact")
        return
    click.secho(f"{ledger}: line {result.first_bad_line}: {result.problem}: {result.detail}", fg="red", err=True)
    sys.exit(1)


@click.command()
@click.option("--config", "config_path", type=FILE, default=None)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md")
@click.pass_context
def report(ctx: click.Context, config_path: Path | None, fmt: str) -> None:
    """Per phase and item: status, who, when, evidence, waivers with reasons."""
    from launchdeck.audit.ledger import Ledger
    from launchdeck.checklists.parser import ChecklistError
    from launchdeck.checklists.signing import ledger_path, load_checklists
    from launchdeck.checklists.state import Board
    from launchdeck.checklists.report import report_json, report_markdown

    try:
        config = load_config(find_config(config_path or (ctx.obj or {}).get("config_path")))
        checklists = load_checklists(config)
    except (ConfigError, ChecklistError) as error:
        fail(str(error))
    path = ledger_path(config)
    board = Board.build(checklists, Ledger(path).records() if path.exists() else [])
    title = f"{config.deck.name} ({config.deck.environment})"
    click.echo(report_json(board, title) if fmt == "json" else report_markdown(board, title))
