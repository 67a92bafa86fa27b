"""`launchdeck act NAME`: deploy, rollback or restore without the TUI, for scripts and SSH sessions.

The same flow as the dashboard's (actions/flow.py): the lock, the ledger, the watch window. Every
refusal is decided before anything runs and exits 2 with one line saying why: actions not enabled,
a parameter failing its pattern, the wrong confirmation word, the lock held (its holder named).
A deploy while the configured pre-launch checklist has open items is refused unless
--override-gate --reason TEXT is given (recorded); the current state is read once (the probes, as
`check`) and what is not ok is printed and recorded as warnings, which never block.
Exit 0: done (a deploy's watch window passed); 1: done but the watch window was breached; 2:
refused, failed or cancelled. Output lines are printed as text (never markup, no escape sequence);
with --json they go to stderr and stdout holds one JSON document.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import sys
from pathlib import Path

import click

from launchdeck.core.config import (
    CONFIG_NAME,
    Config,
    ConfigError,
    find_config,
    load_config,
)
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.plain import visible


def _say(as_json: bool, text: str, err: bool = False) -> None:
    click.echo(visible(text), err=err or as_json)


def _refuse(as_json: bool, message: str, code: int = 2, **known: object) -> None:
    if as_json:
        click.echo(json.dumps({"outcome": "refused", "exit_code": code, "message": message, **known}))
    click.secho(f"launchdeck act: refused: {visible(message)}", fg="red", err=True)
    sys.exit(code)


def _load(path: Path | None, as_json: bool) -> Config:
    try:
        return load_config(find_config(path))
    except ConfigError as error:
        _refuse(as_json, f"config error: {error}")
        raise  # unreachable


async def _run(config: Config, plan, opts) -> object:
    from launchdeck.actions.flow import run_action

    loop = asyncio.get_running_loop()
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(stop, opts.cancel.set)  # cancel: the step's group is killed, nothing further runs
    if plan.hosts:
        from launchdeck.run.ssh import Connections

        async with Connections() as connections:
            opts.connections = connections
            return await run_action(config, plan, opts)
    return await run_action(config, plan, opts)


def _records(ledger: Path) -> list:
    from launchdeck.audit.ledger import Ledger

    return Ledger(ledger).records()


@click.command()
@click.argument("name")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help=f"config file (default: ./{CONFIG_NAME}, then the user config directory)")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="a parameter of the action (repeatable)")
@click.option("--backup", metavar="FILE", help="restore: the dump to restore (default: the newest listed)")
@click.option("--confirm", "typed", metavar="WORD",
              help='the confirmation: "yes", or for confirm = "typed" the word (environment, database name)')
@click.option("--step", "include", multiple=True, metavar="NAME", help="say yes to an optional step (repeatable)")
@click.option("--break-lock", metavar="REASON", help="break a stale lock (dead holder); the reason is recorded")
@click.option("--kill-orphan", is_flag=True,
              help="breaking a stale lock whose step still runs (its holder was SIGKILLed): kill that step's "
                   "process group first (recorded)")
@click.option("--reason", metavar="TEXT", help="why, recorded with the action")
@click.option("--override-gate", is_flag=True,
              help="deploy although pre-launch checklist items are open; needs --reason (both recorded)")
@click.option("--allow-actions", is_flag=True, help="enable actions for this run (else [actions] enabled = true)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON (output lines to stderr)")
@click.pass_context
def act(ctx: click.Context, name: str, config_path: Path | None, params: tuple[str, ...], backup: str | None,
        typed: str | None, include: tuple[str, ...], break_lock: str | None, kill_orphan: bool, reason: str | None,
        override_gate: bool, allow_actions: bool, as_json: bool) -> None:
    """Run deploy, rollback or restore; exit 0 done, 1 watch window breached, 2 refused or failed."""
    from launchdeck.actions.flow import Options, ledger_path, log_dir
    from launchdeck.actions.gates import gather_warnings, phase_gate, settle
    from launchdeck.actions.params import parse_pairs
    from launchdeck.actions.plan import build_plan, check_confirmation
    from launchdeck.core.config_actions import watch_warnings

    parent = ctx.parent.params if ctx.parent is not None else {}
    allow = allow_actions or bool(parent.get("allow_actions"))
    config = _load(config_path or (ctx.obj or {}).get("config_path"), as_json)
    ledger = ledger_path(config)
    try:
        values = parse_pairs(params)
        records = _records(ledger) if name == "rollback" and (allow or config.actions.enabled) else []
        plan = build_plan(config, name, values, allow_actions=allow, records=records, backup=backup)
        unknown = sorted(set(include) - {s.name for s in plan.steps if s.question})
        if unknown:
            raise LaunchdeckError(f"--step {unknown[0]}: no optional step of that name in {name}")
        override = _override(override_gate, reason)
        gate = phase_gate(config, name)
    except LaunchdeckError as error:
        _refuse(as_json, str(error))
        return
    warnings = asyncio.run(gather_warnings(config))  # the probes once, as `check`: shown, recorded, never blocking
    warnings += watch_warnings(config) if name == "deploy" else []  # a window too short to see a sustained breach
    for warning in warnings:
        click.secho(f"warning: {visible(warning)}", fg="yellow", err=True)
    for item in gate.open if gate.closed else ():
        click.secho(f"open: {item.words()}", fg="yellow", err=True)
    try:
        settle(plan, gate, warnings, override)
        check_confirmation(plan, typed)
    except LaunchdeckError as error:
        _refuse(as_json, str(error), warnings=warnings, gate=gate.to_json(override) if gate.applies else None)
        return
    if gate.closed:
        _say(as_json, f"phase gate overridden ({len(gate.open)} pre-launch item(s) open): {override}")
    elif override_gate:
        _say(as_json, "--override-gate not needed: the phase gate is open (nothing overridden)")
    for note in plan.notes:
        _say(as_json, note)
    for step in plan.steps:
        where = step.host.name if step.host else "local"
        optional = f" (optional: {step.question}: {'yes' if step.name in include else 'no'})" if step.question else ""
        _say(as_json, f"{step.name} on {where}: {shlex.join(step.display)}{optional}")
    opts = Options(ledger, log_dir(config), include=frozenset(include), break_lock=break_lock, reason=reason,
                   on_line=lambda _stream, line: _say(as_json, line), kill_orphan=kill_orphan)
    result = asyncio.run(_run(config, plan, opts))
    if result.outcome == "breached" and plan.spec.auto_rollback:
        result = _auto_rollback(config, allow, ledger, opts, result, as_json)
    if as_json:
        click.echo(json.dumps({**result.to_json(), "gate": plan.gate, "warnings": plan.warnings}, indent=2))
    colour = {"done": "green", "breached": "yellow"}.get(result.outcome, "red")
    click.secho(f"{name}: {result.outcome}: {visible(result.message)}", fg=colour, err=as_json)
    for problem in result.problems:
        click.secho(f"warning: {visible(problem)}", fg="yellow", err=True)
    if result.log:
        _say(as_json, f"log: {result.log} (sha256 {result.log_sha256})")
    sys.exit(result.exit_code)


def _override(override_gate: bool, reason: str | None) -> str | None:
    """The override's reason, or None when not overriding; --override-gate without a reason is refused."""
    from launchdeck.actions.gates import OVERRIDE
    from launchdeck.actions.plan import Refused

    if not override_gate:
        return None
    if reason is None or not reason.strip():
        raise Refused(f"--override-gate needs a reason: {OVERRIDE} (the reason is recorded)")
    return reason


def _auto_rollback(config: Config, allow: bool, ledger: Path, opts, breached, as_json: bool):
    """[actions.deploy] auto_rollback = true: the config said so, so the rollback needs no second word.
    The deploy's result (exit 1) stands; the rollback's is printed and recorded."""
    from launchdeck.actions.flow import Options
    from launchdeck.actions.plan import build_plan

    _say(as_json, "watch window breached: rolling back by itself (auto_rollback = true)")
    try:
        plan = build_plan(config, "rollback", {}, allow_actions=allow, records=_records(ledger))
    except LaunchdeckError as error:
        breached.problems.append(f"automatic rollback refused: {error}")
        return breached
    again = Options(opts.ledger, opts.logs, on_line=opts.on_line, reason="automatic rollback: watch window breached")
    rolled = asyncio.run(_run(config, plan, again))
    breached.problems.append(f"automatic rollback to {plan.params.get('version', '?')}: {rolled.outcome}: "
                             f"{rolled.message}")
    return breached
