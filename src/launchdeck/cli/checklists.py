"""`launchdeck checklist show`, `signoff add|list|verify|repair`, `report`: checklists from the shell.

A pipeline signs "tests passed" through `signoff add`: the same rule, record, durability and chain
as a person in the TUI. Everything people wrote is printed as plain text through core/plain.py
(never Rich markup, never a raw control character); JSON carries it exactly (core/jsontext.py).
Readers (`signoff list`, `report`) say loudly when the chain fails its check, from which line, and
exit 1; `signoff verify` prints the head hash to keep elsewhere and checks it with --expect-head.
"""

from __future__ import annotations

import asyncio
import difflib
import sys
from pathlib import Path

import click
from rich.cells import cell_len

from launchdeck.core.config import ConfigError, find_config, load_config
from launchdeck.core.jsontext import dumps
from launchdeck.core.plain import visible

FILE = click.Path(path_type=Path, dir_okay=False)


def fail(message: str) -> None:
    click.secho(f"launchdeck: {visible(message)}", fg="red", err=True)
    sys.exit(2)


def _write(lines: list[str]) -> None:
    """One write of plain lines (already made visible): 50,000 rows print in well under a second,
    where a Rich table took 102 s, and nothing in them is markup."""
    click.echo("\n".join(lines))


def _columns(rows: list[tuple[str, ...]], caps: tuple[int, ...]) -> list[str]:
    """Aligned columns; every cell but the last padded to its widest value up to its cap (a longer one
    pushes its row right rather than being cut: nothing is hidden)."""
    widths = [min(cap, max((cell_len(row[i]) for row in rows), default=0)) for i, cap in enumerate(caps)]
    return ["  ".join([*(c + " " * (w - cell_len(c)) for c, w in zip(row[:len(caps)], widths, strict=True)),
                       *row[len(caps):]]).rstrip()
            for row in rows]


def _checklist(path: Path, config=None):
    """The file as `checklist show` reads it; with a config, exactly as the dashboard loads it: keyed by
    its path relative to the config (teamA/launch.md and teamB/launch.md stay two files), with the
    config's phases, so the ids and the key a sign-off records are the ones the TUI and `report` read."""
    from launchdeck.checklists.parser import ChecklistError, load_checklist
    from launchdeck.checklists.signing import checklist_key

    try:
        if config is None:
            return load_checklist(path)
        section, target = config.checklists, path.resolve()
        for configured in section.files if section else ():
            if config.resolve(configured).resolve() == target:
                return load_checklist(path, phase=section.phases.get(configured.name), overrides=section.phases,
                                      key=checklist_key(config, configured))
        return load_checklist(path, key=checklist_key(config, target))
    except ChecklistError as error:
        fail(str(error))


TWIN = "identical twin: cannot be signed until given its own <!-- id: name -->"


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
        click.echo(dumps({"source": str(path), "title": parsed.title, "problems": list(parsed.problems),
                          "items": [item_to_json(i) | {"ambiguous": i.ambiguous} for i in parsed.items]}))
        return
    lines, phase = [f"{visible(parsed.title)} ({len(parsed.items)} items)"], None
    lines += [f"!! {visible(problem)}" for problem in parsed.problems]
    for item in parsed.items:
        if item.phase != phase:
            phase = item.phase
            lines += ["", visible(phase)]
        indent = "  " * item.level
        lines.append(f"  {'[x]' if item.checked else '[ ]'} {indent}{visible(item.text)}")
        lines.append(f"      {indent}id {visible(item.id)}" + (f"  !! {TWIN}" if item.ambiguous else ""))
    _write(lines)


@click.group()
def signoff() -> None:
    """Sign checklist items and check the ledger."""


def _config(config_path: Path):
    try:
        return load_config(find_config(config_path))
    except ConfigError as error:
        fail(f"config error: {error}")


def _live_history(config_path: Path | None, config=None):
    """One round of every configured probe, as history for evidence (None without a config)."""
    from launchdeck.cli.oneshot import run_check
    from launchdeck.core.history import ReadingHistory

    if config is None:
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
@click.option("--config", "config_path", type=FILE, default=None,
              help="the deck's config: its probes give live evidence, and the item is recorded under the file's "
                   "path relative to it (as the dashboard reads it)")
def signoff_add(ledger: Path, item_id: str, checklist_path: Path, note: str | None, waive: bool, unsign: bool,
                reason: str | None, override: bool, config_path: Path | None) -> None:
    """Record a sign-off (or waiver, or withdrawal) of ITEM_ID, durably, in LEDGER."""
    from launchdeck.audit.ledger import Ledger, LedgerError
    from launchdeck.checklists.signing import Request, SignoffRefused, sign
    from launchdeck.checklists.state import checklist_name
    from launchdeck.core.model import SystemClock

    if waive and unsign:
        fail("choose one of --waive and --unsign")
    config = _config(config_path) if config_path is not None else None
    parsed = _checklist(checklist_path, config)
    item = parsed.get(item_id)
    if item is None:
        close = difflib.get_close_matches(item_id, [i.id for i in parsed.items], n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else "; list ids with `launchdeck checklist show`"
        fail(f"{checklist_path}: no item {item_id!r}{hint}")
    kind = "waive" if waive else "unsign" if unsign else "sign"
    text = reason if kind != "sign" else note
    history = _live_history(config_path, config) if kind == "sign" and item.verify else None
    request = Request(checklist_name(parsed), item, kind, text, reason if override else None)
    try:
        record = sign(Ledger(ledger), request, history, SystemClock().now())
    except (SignoffRefused, ValueError, LedgerError) as error:
        fail(f"not recorded: {error}")
    click.echo(visible(f"{record.kind} #{record.seq} {record.item_id} by {record.operator['login']} at {record.time}"))


def _loud(ok: bool, words: str) -> None:
    click.secho(("" if ok else "!! ") + words, fg=None if ok else "red", bold=not ok)


@signoff.command("list")
@click.argument("ledger", type=FILE)
@click.option("--json", "as_json", is_flag=True, help="every record that parses, exactly (the check goes to stderr)")
def signoff_list(ledger: Path, as_json: bool) -> None:
    """Every record in the ledger, oldest first; exit 1 when the chain fails its check, with the lines
    from the first bad one marked UNVERIFIED."""
    from launchdeck.audit.chain import check_ledger
    from launchdeck.checklists.report import integrity_words
    from launchdeck.checklists.state import operator_label

    if not ledger.exists() and not ledger.is_symlink():
        fail(f"{ledger}: no such ledger")
    checked = check_ledger(ledger)
    ok, words = integrity_words(checked, ledger)
    if as_json:
        click.echo(dumps([r.to_json() for r in checked.records]
                         + [u.record.to_json() for u in checked.unverified if u.record]))
        if not ok:
            click.secho(f"launchdeck: {words}", fg="red", err=True)
            sys.exit(1)
        return

    def row(mark: str, r) -> tuple[str, ...]:
        what = f"{r.checklist}: {r.item_text}" if r.checklist or r.item_text else r.item_id
        return (mark, str(r.seq), r.time, r.kind, visible(operator_label(r)),
                visible(what) + (f" — {visible(r.reason)}" if r.reason else ""))

    rows = [("", "seq", "time", "kind", "by", "item — note or reason")] + [row("", r) for r in checked.records]
    for u in checked.unverified:
        rows.append(row(f"UNVERIFIED line {u.line}", u.record) if u.record else
                    (f"UNVERIFIED line {u.line}", "", "", "", "", f"not a record: {visible(u.why)}"))
    skip = 0 if checked.unverified else 1  # the mark column only when something is unverified
    _loud(ok, words)
    _write(_columns([r[skip:] for r in rows], (22, 6, 27, 8, 30)[skip:]))
    if not ok:  # again below: a long list scrolls the first warning away
        _loud(ok, words)
        sys.exit(1)


@signoff.command("verify")
@click.argument("ledger", type=FILE)
@click.option("--expect-head", "expect_head", default=None, metavar="HASH",
              help="the head kept from an earlier verify (at least 12 hex digits): exit 1 unless the chain ends there")
@click.option("--json", "as_json", is_flag=True, help="ok, records, head, first_bad_line, problem, detail")
def signoff_verify(ledger: Path, expect_head: str | None, as_json: bool) -> None:
    """Check the hash chain: exit 0 intact, 1 with the first bad line and why (or a head other than
    --expect-head: the last records removed, or the chain re-hashed from an edited record onward)."""
    from launchdeck.audit.chain import anchor_problem, check_ledger, normalise_anchor

    try:
        anchor = normalise_anchor(expect_head) if expect_head is not None else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--expect-head") from None
    if not ledger.exists() and not ledger.is_symlink():  # a link is refused by the read itself, in words
        fail(f"{ledger}: no such ledger")
    checked = check_ledger(ledger)
    result, name = checked.result, visible(ledger)
    mismatch = anchor_problem(checked, anchor) if anchor else None
    if as_json:
        click.echo(dumps({"ok": result.ok, "records": result.records, "head": result.head,
                          "first_bad_line": result.first_bad_line, "problem": result.problem,
                          "detail": result.detail, "expected_head": anchor, "head_matches": mismatch is None}))
    elif result.ok:
        click.echo(f"{name}: ok, {result.records} records, chain intact")
        click.echo(f"head {result.head} (seq {result.records}): keep it elsewhere; check with --expect-head")
    else:
        click.secho(f"{name}: line {result.first_bad_line}: {visible(result.problem)}: {visible(result.detail)}",
                    fg="red", err=True)
        click.secho(f"{name}: verified before it: {result.records} records, head {result.head}; "
                    f"`launchdeck signoff repair {name}` sets line {result.first_bad_line} onward aside", err=True)
    if mismatch and not as_json:
        click.secho(f"{name}: head does not match --expect-head: {mismatch}", fg="red", err=True)
    if not result.ok or mismatch:
        sys.exit(1)


@signoff.command("repair")
@click.argument("ledger", type=FILE)
@click.option("--dry-run", is_flag=True, help="say what would be set aside; change nothing")
def signoff_repair(ledger: Path, dry_run: bool) -> None:
    """Set every line from the first bad one on aside, into LEDGER.set-aside-<time> beside it, and chain a
    recovery record naming that file, its size and sha256: the chain is valid again and nothing is
    deleted. Records set aside are no longer counted: re-sign what still holds."""
    from launchdeck.audit.ledger import Ledger, LedgerError

    if not ledger.exists() and not ledger.is_symlink():
        fail(f"{ledger}: no such ledger")
    try:
        done = Ledger(ledger).repair(dry_run=dry_run)
    except LedgerError as error:
        fail(f"not repaired: {error}")
    if done is None:
        click.echo(f"{visible(ledger)}: chain intact, nothing to repair")
        return
    click.echo(visible(done))
    if dry_run:
        click.echo("run again without --dry-run to set them aside (nothing is deleted)")


@click.command()
@click.option("--config", "config_path", type=FILE, default=None)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md")
@click.pass_context
def report(ctx: click.Context, config_path: Path | None, fmt: str) -> None:
    """Per phase and item: status, who, when, evidence, waivers with reasons; then every deploy, rollback
    and restore run (who, when, parameters, steps, outcome, log and its sha256); the ledger's record count
    and head. Exit 1 when the ledger fails its check: only the records before the bad line count."""
    from launchdeck.audit.chain import check_ledger
    from launchdeck.checklists.parser import ChecklistError
    from launchdeck.checklists.report import integrity_words, report_json, report_markdown
    from launchdeck.checklists.signing import ledger_path, load_checklists
    from launchdeck.checklists.state import Board

    try:
        config = load_config(find_config(config_path or (ctx.obj or {}).get("config_path")))
        checklists = load_checklists(config)
    except (ConfigError, ChecklistError) as error:
        fail(str(error))
    path = ledger_path(config)
    checked = check_ledger(path, missing_ok=True)
    board = Board.build(checklists, checked.records)
    title = f"{config.deck.name} ({config.deck.environment})"
    render = report_json if fmt == "json" else report_markdown
    from launchdeck.engine.timeline_report import build_timeline

    timeline, recording = build_timeline(config, checked.records)  # the flight recording's and the ledger's
    click.echo(render(board, title, checked, path, timeline, recording))
    ok, words = integrity_words(checked, path)
    if not ok:
        click.secho(f"launchdeck: {words}", fg="red", err=True)
        sys.exit(1)
