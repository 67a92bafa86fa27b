"""Run a planned action: lock, ledger, hosts' locks, steps, the deploy's watch window, webhook.

The order is the safety model. The action lock is taken first (another operator's running action
refuses this one, naming its holder); the start record is written next (an action the ledger cannot
show does not run); then each host's lock; then the steps, one at a time, stopping at the first that
does not succeed; an optional step runs only when the operator said yes to it. Cancel (the event,
Ctrl-C, SIGTERM) kills the running step's process group and runs nothing further. Every path out,
exceptions included, writes the finish record and releases the host locks and the action lock.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launchdeck.actions import lock as locks
from launchdeck.actions.local import StepResult, run_local_step
from launchdeck.actions.output import ActionLog, LineCallback
from launchdeck.actions.plan import Plan, PlannedStep
from launchdeck.actions.record import Recorder
from launchdeck.audit.ledger import Ledger, LedgerError, Operator
from launchdeck.checklists.signing import ledger_path  # noqa: F401  (callers import it from here too)
from launchdeck.core.config import Config
from launchdeck.core.plain import visible
from launchdeck.core.redact import Scrubber
from launchdeck.core.webhook import post

if TYPE_CHECKING:
    from launchdeck.core.config import HostConfig
    from launchdeck.engine.engine import Engine
    from launchdeck.run.ssh import Connections

EXIT = {"done": 0, "breached": 1}  # everything else (refused, failed, cancelled): 2
LOG_DIR_NAME = "launchdeck-actions"


def log_dir(config: Config) -> Path:
    configured = config.actions.log_dir
    return config.resolve(configured) if configured else ledger_path(config).parent / LOG_DIR_NAME


@dataclass
class Options:
    """How to run: where to record, what the operator said, how to cancel."""

    ledger: Path
    logs: Path
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    on_line: LineCallback | None = None
    include: frozenset[str] = frozenset()  # optional steps the operator said yes to, by name
    break_lock: str | None = None  # a reason: break a stale lock (recorded)
    kill_orphan: bool = False  # breaking it: also end the dead holder's step still running in its group
    reason: str | None = None  # why this action (recorded)
    connections: Connections | None = None
    operator: Operator | None = None
    live: Engine | None = None  # the dashboard's running engine: the watch window reads it, no second poll


@dataclass
class ActionResult:
    outcome: str  # done | breached | failed | cancelled | refused
    message: str
    run: str
    log: Path | None = None
    log_sha256: str | None = None
    steps: list[dict] = field(default_factory=list)
    watch: dict | None = None
    problems: list[str] = field(default_factory=list)  # a webhook that failed, a lock not released

    @property
    def exit_code(self) -> int:
        return EXIT.get(self.outcome, 2)

    def to_json(self) -> dict:
        return {"outcome": self.outcome, "exit_code": self.exit_code, "message": self.message, "run": self.run,
                "log": str(self.log) if self.log else None, "log_sha256": self.log_sha256, "steps": self.steps,
                "watch": self.watch, "problems": self.problems}


def _holder_line(lock: locks.ActionLock, deadline: float) -> str:
    return locks.json.dumps({**lock.holder, "deadline": deadline}, sort_keys=True, separators=(",", ":"))


async def _take_action_lock(plan: Plan, opts: Options, recorder: Recorder, operator: Operator) -> locks.ActionLock:
    """Our lock, after breaking a stale one if the operator gave a reason; LockError otherwise."""
    budget = sum(s.timeout for s in plan.steps) + plan.watch  # another host judges our lock stale past this
    lock = locks.ActionLock.mine(locks.lock_path_for(opts.ledger), operator.login, plan.action, plan.params,
                                 opts.reason, budget)
    try:
        locks.acquire(lock)
        return lock
    except locks.LockError as error:
        if not (error.stale and opts.break_lock):
            if error.stale:
                how = " --kill-orphan" if locks.orphan(error.holder) is not None else ""
                raise locks.LockError(f"{error} (break it with --break-lock REASON{how})", error.holder,
                                      True) from None
            raise
    words = locks.describe(locks.read_holder(lock.path) or {}, lock.path)  # before a killed orphan changes it
    holder = locks.break_stale(lock.path, opts.break_lock, kill_orphan=opts.kill_orphan)
    killed = holder.get("orphan_killed")
    said = f"; its orphaned step's process group {killed} was killed" if killed else ""
    await recorder.append("lock-broken", f"stale action lock broken: {words}{said}",
                          {"lock": str(lock.path), "holder": holder, "orphan_killed": killed}, reason=opts.break_lock)
    locks.acquire(lock)
    return lock


async def run_step(step: PlannedStep, log: ActionLog, opts: Options,
                   on_spawn: Callable[[int], object] | None = None) -> StepResult:
    if step.call is not None:
        result = await step.call()
        log.note(result.message)
        return result
    if step.host is None:
        return await run_local_step(step.argv, log, timeout=step.timeout, cancel=opts.cancel, env=step.env,
                                    stdin=step.stdin, gunzip=step.gunzip, on_spawn=on_spawn)
    if opts.connections is None:
        raise ValueError(f"step {step.name!r} runs on {step.host.name}: the SSH connections are needed")
    from launchdeck.actions.remote import run_remote_step

    return await run_remote_step(opts.connections, step.host, step.argv, log, timeout=step.timeout,
                                 cancel=opts.cancel, env=step.env, on_spawn=on_spawn)


async def _lock_hosts(plan: Plan, opts: Options, recorder: Recorder, line: str, taken: list[HostConfig]) -> str | None:
    """Each host's lock, in order; the refusal's words when one is held (a stale one broken with a reason)."""
    import socket

    from launchdeck.actions.remote import acquire_host_lock, release_host_lock

    assert opts.connections is not None
    for host in plan.hosts:
        held = await acquire_host_lock(opts.connections, host, line, socket.gethostname(), locks.pid_alive)
        if held is not None and held.stale and opts.break_lock:
            await release_host_lock(opts.connections, host, held.raw)
            await recorder.append("lock-broken", f"stale lock on host {host.name} broken: {held.describe()}",
                                  {"host": host.name, "holder": held.holder}, reason=opts.break_lock)
            held = await acquire_host_lock(opts.connections, host, line, socket.gethostname(), locks.pid_alive)
        if held is not None:
            return held.describe() + ("" if not held.stale else " (break it with --break-lock REASON)")
        taken.append(host)
    return None


async def run_action(config: Config, plan: Plan, opts: Options) -> ActionResult:
    """Run the plan (already confirmed); the result says how it ended. Never leaves a lock behind."""
    operator = opts.operator or Operator.current()
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    recorder = Recorder(Ledger(opts.ledger, operator=operator), plan.action, run)
    result = ActionResult("refused", "", run)
    try:
        lock = await _take_action_lock(plan, opts, recorder, operator)
    except locks.LockError as error:
        result.message = str(error)
        return result
    except LedgerError as error:
        result.message = f"not started: {error}"
        return result
    taken: list[HostConfig] = []
    budget = sum(s.timeout for s in plan.steps) + plan.watch + 600  # a host lock older than this is stale
    host_line = _holder_line(lock, time.time() + budget)
    log: ActionLog | None = None
    started = time.monotonic()
    notified: asyncio.Task | None = None
    try:
        log = ActionLog(opts.logs / f"{run}-{plan.action}.log", opts.on_line, Scrubber(config.secrets))
        result.log = log.path
        try:
            await recorder.append("start", f"{plan.summary()} started", {
                "params": plan.params, "steps": [s.to_json() for s in plan.steps], "confirm": plan.confirm,
                "hosts": [h.name for h in plan.hosts], "watch_seconds": plan.watch, "notes": plan.notes,
                "log": str(log.path), "backup": str(plan.backup) if plan.backup else None,
                "gate": plan.gate, "warnings": plan.warnings}, reason=opts.reason)
        except LedgerError as error:
            result.outcome, result.message = "failed", f"not started (nothing ran): {error}"
            return result
        notified = asyncio.ensure_future(_notify(config, plan, operator, "started", None))
        try:
            await _body(config, plan, opts, recorder, log, result, taken, host_line, lock)
        except asyncio.CancelledError:
            result.outcome, result.message = "cancelled", "cancelled; nothing further ran"
            await asyncio.shield(_finish(plan, recorder, log, result, started))
            raise
        except Exception as error:  # noqa: BLE001 - a bug or a lost disk: still recorded, still unlocked
            result.outcome, result.message = "failed", f"{type(error).__name__}: {visible(str(error))}"
        await _finish(plan, recorder, log, result, started)
        problem = await _notify(config, plan, operator, result.outcome, result)
        result.problems += [p for p in (problem, await notified if notified else None) if p]
        return result
    finally:
        if notified is not None and not notified.done():
            notified.cancel()
        if log is not None:
            log.close()
        if taken and opts.connections is not None:
            await asyncio.shield(_unlock_hosts(opts.connections, taken, host_line, result))
        if not locks.release(lock):
            result.problems.append(f"the action lock {lock.path} was no longer ours; left as it is")


async def _body(config: Config, plan: Plan, opts: Options, recorder: Recorder, log: ActionLog,
                result: ActionResult, taken: list, host_line: str, lock: locks.ActionLock) -> None:
    if plan.hosts:
        refusal = await _lock_hosts(plan, opts, recorder, host_line, taken)
        if refusal:
            result.outcome, result.message = "refused", refusal
            return
    for index, step in enumerate(plan.steps):
        if opts.cancel.is_set():
            result.outcome, result.message = "cancelled", "cancelled before step " + visible(step.name)
            return
        if step.question and step.name not in opts.include:
            log.note(f"step {step.name}: skipped ({step.question} not confirmed)")
            await recorder.append("skipped", f"{plan.action}: step {step.name} skipped", {"step": step.to_json()})
            result.steps.append({"name": step.name, "outcome": "skipped"})
            continue
        where = step.host.name if step.host else "local"
        log.note(f"step {index + 1}/{len(plan.steps)} {step.name} on {where}: {shlex.join(step.display)}")
        where_lock = step.host.name if step.host else "local"
        locks.note_step(lock, step.name, where_lock)  # a SIGKILLed holder's lock names the step it left
        try:
            outcome = await run_step(step, log, opts,
                                     on_spawn=lambda pgid, s=step.name, w=where_lock: locks.note_step(lock, s, w, pgid))
        finally:
            locks.note_step(lock, None)
        log.note(outcome.message)
        done = {"name": step.name, "outcome": outcome.outcome, "exit_status": outcome.exit_status,
                "signal": outcome.exit_signal, "duration_seconds": round(outcome.duration, 3),
                "message": visible(outcome.message)}
        result.steps.append(done)
        await recorder.append("step", f"{plan.action}: step {step.name} {outcome.outcome}",
                              {"step": step.to_json(), **done, "log": str(log.path), "log_bytes": log.bytes_written})
        if not outcome.ok:
            result.outcome = "cancelled" if outcome.outcome == "cancelled" else "failed"
            result.message = f"step {visible(step.name)}: {visible(outcome.message)}; nothing further ran"
            return
    if plan.watch > 0:
        from launchdeck.actions.watch import watch_window

        watched = await watch_window(config, plan.watch, opts.cancel, log.note, live=opts.live,
                                     services=plan.spec.watch_services, traffic=plan.spec.watch_traffic)
        result.watch = watched.to_json()
        if watched.cancelled:
            result.outcome, result.message = "cancelled", "steps done; watch window cancelled (not recorded as good)"
        elif not watched.passed:
            result.outcome, result.message = "breached", f"steps done; watch window breached: {watched.breach}"
        else:
            result.outcome, result.message = "done", f"done; watch window of {plan.watch:g}s passed"
        return
    result.outcome, result.message = "done", "done"


async def _unlock_hosts(connections: Connections, hosts: list, line: str, result: ActionResult) -> None:
    from launchdeck.actions.remote import release_host_lock

    for host in hosts:
        try:
            if not await release_host_lock(connections, host, line):
                result.problems.append(f"host {host.name}: its lock holds another holder; left as it is")
        except Exception as error:  # noqa: BLE001 - reported, the other hosts are still unlocked
            result.problems.append(f"host {host.name}: lock not released: {visible(str(error))}")


async def _finish(plan: Plan, recorder: Recorder, log: ActionLog, result: ActionResult, started: float) -> None:
    result.log_sha256 = log.close()
    try:
        await recorder.append("finish", f"{plan.summary()}: {result.outcome}", {
            "params": plan.params, "outcome": result.outcome, "exit_code": result.exit_code,
            "message": result.message, "duration_seconds": round(time.monotonic() - started, 3),
            "steps": result.steps, "watch": result.watch, "log": str(log.path), "log_sha256": result.log_sha256,
            "log_bytes": log.bytes_written})
    except LedgerError as error:
        result.problems.append(f"finish not recorded: {error}")


async def _notify(config: Config, plan: Plan, operator: Operator, event: str, result: ActionResult | None) -> str | None:
    fields: dict[str, Any] = {"event": "start" if result is None else "finish", "action": plan.action,
                              "params": plan.params, "deck": config.deck.name,
                              "environment": config.deck.environment, "operator": operator.login,
                              "host": operator.hostname}
    text = f"{config.deck.name} ({config.deck.environment}): {operator.login} {plan.summary()} {event}"
    if result is not None:
        fields.update(outcome=result.outcome, exit_code=result.exit_code, message=result.message,
                      watch=result.watch, run=result.run)
        text += f": {result.message}"
    return await post(config.notify, text, fields)
