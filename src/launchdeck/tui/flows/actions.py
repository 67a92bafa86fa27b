"""Deploy, rollback and restore from the dashboard: gather, confirm, run off the UI loop, show.

The dashboard drives the same headless code as `launchdeck act`: actions/plan.py decides every
refusal and renders every argv, actions/flow.py takes the lock, records and runs. So the dashboard
can never do what the CLI would refuse. What this module adds is the asking (a confirmation
screen fed with what the dashboard says now) and the running on a thread of its own, with its own
event loop, so a 10 MB step output or a five-minute watch window never holds up a key press.
Reading the ledger, the lock and the backups list is blocking and runs on launchdeck's pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from launchdeck.core.config import Config
from launchdeck.core.config_actions import (
    ACTION_NAMES,
    BUILTIN_PARAMS,
    ActionConfig,
    runbook_words,
)
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.model import Status
from launchdeck.core.plain import visible
from launchdeck.core.pool import run_blocking

if TYPE_CHECKING:  # actions/* is imported when an action is first asked for, not at start-up
    from launchdeck.actions.flow import ActionResult, Options
    from launchdeck.actions.gates import Gate
    from launchdeck.actions.plan import Plan
    from launchdeck.checklists.state import Board
    from launchdeck.engine.engine import Engine
    from launchdeck.tui.app import LaunchdeckApp

# capitals: an action is never one slip of the finger away (r refreshes, R rolls back)
KEYS = {"deploy": "D", "rollback": "R", "restore": "S"}
MEANING = {"deploy": "deploy a version: confirm, run its steps, then watch services and traffic",
           "rollback": "deploy the previous good version from the ledger (nobody types it)",
           "restore": "restore a database from a chosen backup (a safety dump is taken first)"}
GATHER_TIMEOUT = 60.0  # s to read the ledger, the lock and the backups list


def available(config: Config, enabled: bool) -> list[str]:
    """The actions a key or the palette may offer: none unless actions are enabled."""
    if not enabled:
        return []
    return [name for name in ACTION_NAMES if config.actions.get(name) is not None]


@dataclass(frozen=True)
class BackupChoice:
    name: str
    taken_at: str  # "2026-11-25 03:00" or ""
    size: int | None


@dataclass
class Draft:
    """What the confirmation screen shows before anything is decided, gathered off the UI loop."""

    action: str
    spec: ActionConfig
    asked: dict[str, str]  # parameters the operator types: name -> pattern
    word: str  # what must be typed ("yes" for confirm = "yes")
    templates: list[tuple[str, str, str]]  # (step, where, argv with {name}s) before the values are known
    plan: Plan | None = None  # already complete when nothing is asked (rollback, a restore's newest)
    records: list = field(default_factory=list)  # the ledger, for rollback's previous good version
    backups: list[BackupChoice] = field(default_factory=list)  # restore chooses from these
    lock: str | None = None  # the action lock's holder and age, when held
    lock_stale: bool = False  # its holder is gone (or another host's is past its deadline): broken with a reason
    lock_orphan: int | None = None  # the dead holder's step still running in this process group
    problem: str | None = None  # why the plan cannot be built as it stands
    gate: Gate | None = None  # the phase gate (actions/gates.py): closed, a deploy needs a reason to override it
    warnings: list[str] = field(default_factory=list)  # not-ok readings, in gates.py's words: shown and recorded


@dataclass(frozen=True)
class Answer:
    """What the operator confirmed: the plan as it was shown, the word typed, the optional steps said yes to."""

    plan: Plan
    word: str
    include: frozenset[str]
    reason: str | None
    break_lock: str | None = None  # a stale lock's holder is gone: broken with this reason (recorded)
    kill_orphan: bool = False  # and the step it left running is killed first (recorded)


def gather(config: Config, name: str, enabled: bool, board: Board | None = None) -> Draft:
    """Blocking (pool): the spec, what must be asked, the lock, the ledger for rollback, the backups for
    restore, the phase gate (against the live `board`, else the one on disk, as `launchdeck act`)."""
    import shlex

    from launchdeck.actions import lock as locks
    from launchdeck.actions.flow import ledger_path
    from launchdeck.actions.gates import phase_gate
    from launchdeck.actions.params import needed_names, patterns_for
    from launchdeck.actions.plan import Refused, build_plan, spec_of
    from launchdeck.audit.ledger import Ledger

    spec = spec_of(config, name, enabled)  # Refused when disabled or not configured
    ledger = ledger_path(config)
    holder = locks.read_holder(locks.lock_path_for(ledger))
    lock = locks.describe(holder, locks.lock_path_for(ledger)) if holder is not None else None
    records = Ledger(ledger).records() if name == "rollback" else []
    deploy = config.actions.deploy
    patterns = patterns_for(name, spec, deploy.params if deploy and name == "rollback" else None)
    builtin = BUILTIN_PARAMS.get(name, set())
    words = runbook_words(spec)
    asked = {} if spec.kind == "postgres" else {n: patterns[n] for n in sorted(needed_names(words)) if n not in builtin}
    templates = [] if spec.kind == "postgres" else [
        (step.name or f"step {i + 1}", step.host or spec.host or "local", shlex.join(step.argv))
        for i, step in enumerate(spec.runbook())]
    draft = Draft(name, spec, asked, "yes", templates, records=records, lock=lock,
                  lock_stale=holder is not None and locks.is_stale(holder), gate=phase_gate(config, name, board),
                  lock_orphan=locks.orphan(holder) if holder else None)
    if spec.backups:  # the built-in restore, or a runbook's {backup}: chosen from the source's list
        draft.backups = _backups(config, spec)
        if not draft.backups:
            raise Refused(f"no backup to restore: the source {spec.backups!r} lists none")
    draft.word = spec.confirm_word or config.deck.environment if spec.confirm == "typed" else "yes"
    if not asked:
        try:
            draft.plan = build_plan(config, name, {}, allow_actions=enabled, records=records)
            draft.word = draft.plan.word
        except LaunchdeckError as error:
            draft.problem = str(error)
    return draft


def _backups(config: Config, spec: ActionConfig) -> list[BackupChoice]:
    from datetime import UTC

    from launchdeck.actions.postgres import list_backups

    source = next(b for b in config.backups if b.name == spec.backups)
    folder = config.resolve(Path(str(source.path)))
    listed = list_backups(source.model_copy(update={"path": str(folder)}))
    return [BackupChoice(b.name, b.taken_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if b.taken_at else "", b.size)
            for b in listed]


def preview(config: Config, draft: Draft, values: dict[str, str], backup: str | None, enabled: bool) -> Plan:
    """Blocking (pool): the plan for these values; ParamError or Refused says why not (nothing runs)."""
    from launchdeck.actions.plan import build_plan

    return build_plan(config, draft.action, values, allow_actions=enabled, records=draft.records, backup=backup)


def words_match(typed: str, word: str) -> bool:
    """Exactly the word (constant time, case matters), as actions/plan.py's check_confirmation."""
    import hmac

    return hmac.compare_digest(typed.encode(), word.encode())


def dashboard_now(app: LaunchdeckApp, draft: Draft) -> list[tuple[str, str]]:
    """What the dashboard says now, as (severity, line): from the app's latest readings and the board,
    never from a probe. Severity is "crit", "warn" or "ok". The readings' lines are gates.py's words,
    the same `launchdeck act` prints; they become the plan's recorded warnings (draft.warnings)."""
    from launchdeck.actions.gates import state_warnings
    from launchdeck.core.config_actions import watch_warnings
    from launchdeck.core.model import ACT_FIRST

    lines: list[tuple[str, str]] = []
    if draft.lock:
        lines.append(("crit", f"lock: {draft.lock}"))
    if draft.gate is not None and draft.gate.closed:
        lines.append(("crit", f"phase gate: {draft.gate.words()}"))
    session = app.checklists
    if session is not None:
        states = session.board.phase("pre-launch")
        open_items = [s for s in states if not s.done]
        if open_items:
            shown = "; ".join(s.item.text for s in open_items[:3]) + ("; …" if len(open_items) > 3 else "")
            lines.append(("warn", f"pre-launch: {len(open_items)} of {len(states)} items not signed: {shown}"))
    bad = sorted((r for r in app.latest.values() if r.status is not Status.OK),
                 key=lambda r: (-r.status.severity, ACT_FIRST.get(r.panel, len(ACT_FIRST)), r.panel, r.target))
    draft.warnings = [state_warnings([r])[0] for r in bad]
    for reading, words in zip(bad, draft.warnings, strict=True):
        lines.append(("crit" if reading.status is Status.CRIT else "warn", words))
    if draft.action == "deploy":  # a window too short to see a sustained breach: said, recorded, never blocking
        short = watch_warnings(app.config)
        draft.warnings += short
        lines += [("warn", words) for words in short]
    if not lines:
        said = "no readings yet" if not app.latest else "services, traffic and backups ok"
        lines.append(("ok", said + ("; pre-launch signed" if session is not None else "")))
    return lines


class LineInbox:
    """Output lines from the action's thread to the UI: one message posted when it turns non-empty,
    so 10 MB of output is a few hundred messages, not a million. At most MEMORY_LINES wait; older
    ones are counted as dropped (the log file has every byte)."""

    def __init__(self, wake: Callable[[], object]) -> None:
        from launchdeck.actions.output import MEMORY_LINES

        self._wake = wake
        self._lock = threading.Lock()
        self._lines: deque[tuple[str, str]] = deque(maxlen=MEMORY_LINES)
        self._dropped = 0

    def put(self, stream: str, line: str) -> None:
        with self._lock:
            if len(self._lines) == self._lines.maxlen:
                self._dropped += 1
            self._lines.append((stream, line))
            first = len(self._lines) == 1
        if first:
            self._wake()

    def take(self) -> tuple[list[tuple[str, str]], int]:
        with self._lock:
            lines, dropped = list(self._lines), self._dropped
            self._lines.clear()
            self._dropped = 0
        return lines, dropped


class ActionRun:
    """One confirmed plan, run by actions/flow.py on a thread with its own event loop (as `launchdeck
    act` runs it). Not a daemon: quitting cancels it and waits for its finish record and the lock's
    release. `cancel()` is safe from any thread: the running step's group is killed, nothing further runs."""

    def __init__(self, config: Config, answer: Answer, on_line: Callable[[str, str], None],
                 on_done: Callable[[ActionResult], None], live: Engine | None = None) -> None:
        self.config, self.answer = config, answer
        self.live = live  # the dashboard's engine: a deploy's watch window reads it, no second poll
        self.plan = answer.plan
        self.on_line, self.on_done = on_line, on_done
        self.cancelled = False
        self.result: ActionResult | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="launchdeck-action", daemon=False)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.cancelled = True
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass  # its loop has closed: the action has ended already

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _main(self) -> None:
        from launchdeck.actions.flow import ActionResult

        try:
            result = asyncio.run(self._go())
        except BaseException as error:  # noqa: BLE001 - told on screen; flow.py already released the lock
            result = ActionResult("failed", f"{type(error).__name__}: {visible(str(error))}", "")
        self.result = result
        self.on_done(result)

    async def _go(self) -> ActionResult:
        from launchdeck.actions.flow import Options, ledger_path, log_dir
        from launchdeck.actions.plan import check_confirmation

        check_confirmation(self.plan, self.answer.word)  # once more, where it runs: a wrong word runs nothing
        opts = Options(ledger_path(self.config), log_dir(self.config), include=self.answer.include,
                       reason=self.answer.reason, on_line=self.on_line, break_lock=self.answer.break_lock,
                       kill_orphan=self.answer.kill_orphan, live=self.live)
        self._loop, self._event = asyncio.get_running_loop(), opts.cancel
        if self.cancelled:
            opts.cancel.set()
        result = await self._run(self.plan, opts)
        if result.outcome == "breached" and self.plan.spec.auto_rollback and not opts.cancel.is_set():
            await self._auto_rollback(opts, result)
        return result

    async def _run(self, plan: Plan, opts: Options) -> ActionResult:
        from launchdeck.actions.flow import run_action

        if plan.hosts:
            from launchdeck.run.ssh import Connections

            async with Connections() as connections:
                opts.connections = connections
                return await run_action(self.config, plan, opts)
        return await run_action(self.config, plan, opts)

    async def _auto_rollback(self, opts: Options, breached: ActionResult) -> None:
        """[actions.deploy] auto_rollback = true, as `launchdeck act` does it: the config said so."""
        from launchdeck.actions.flow import Options
        from launchdeck.actions.plan import build_plan
        from launchdeck.audit.ledger import Ledger

        self.on_line("launchdeck", "watch window breached: rolling back by itself (auto_rollback = true)")
        try:
            records = await run_blocking(Ledger(opts.ledger).records, timeout=GATHER_TIMEOUT)
            # this run was confirmed in an app with actions enabled; plan.py still refuses an unconfigured one
            plan = build_plan(self.config, "rollback", {}, allow_actions=True, records=records)
        except (LaunchdeckError, TimeoutError) as error:
            breached.problems.append(f"automatic rollback refused: {error}")
            return
        again = Options(opts.ledger, opts.logs, on_line=opts.on_line, live=opts.live,
                        reason="automatic rollback: watch window breached")
        self._event = again.cancel  # x now cancels the rollback
        if self.cancelled:
            again.cancel.set()
        rolled = await self._run(plan, again)
        breached.problems.append(f"automatic rollback to {plan.params.get('version', '?')}: {rolled.outcome}: "
                                 f"{rolled.message}")


class ActionsFlow:
    """The app's side: which actions exist, the confirmation, the run screen, one run at a time."""

    def __init__(self, app: LaunchdeckApp) -> None:
        self.app = app
        self.names = available(app.config, app.actions_enabled)
        self.run: ActionRun | None = None
        self.screen = None  # the run screen of the current or last run
        self._retired: list = []  # earlier run screens, uninstalled once off the screen stack

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.running

    def keys_help(self) -> list[tuple[str, str]]:
        keys = [(KEYS[name], MEANING[name]) for name in self.names]
        if keys:
            keys.append(("x (action screen)", ("cancel the running action: its step's process group is killed, "
                                               "nothing further runs, the lock is released")))
        return keys

    def start(self, name: str) -> None:
        if name not in self.names:  # a disabled or unconfigured action is never reached, whatever asks
            self.app.notify("actions are read-only here: start with --allow-actions or set [actions] enabled = true "
                            f"(and configure [actions.{name}])", severity="warning", timeout=6)
            return
        if self.running and self.screen is not None:
            self.app.notify(f"{self.run.plan.summary()} is still running", timeout=4)
            if self.app.screen is not self.screen:
                self.app.push_screen(self.screen)
            return
        self.app.run_worker(self._open(name), group="actions", exit_on_error=False)

    async def _open(self, name: str) -> None:
        from launchdeck.tui.screens.action_confirm import ActionConfirm

        config, enabled = self.app.config, self.app.actions_enabled
        try:
            board = self.app.checklists.board if self.app.checklists is not None else None
            draft = await run_blocking(gather, config, name, enabled, board, timeout=GATHER_TIMEOUT)
        except LaunchdeckError as error:
            self.app.notify(str(error), title=f"{name}: refused", severity="warning", timeout=10)
            return
        if draft.problem is not None and not draft.asked:  # nothing the operator could type would change it
            self.app.notify(draft.problem, title=f"{name}: refused", severity="warning", timeout=10)
            return
        if draft.lock is not None and not draft.lock_stale:  # shown instead of a screen that could only refuse
            self.app.notify(f"{name} not started: action lock {draft.lock}", title="locked", severity="warning",
                            timeout=15)
            return

        def check(values: dict[str, str], backup: str | None):
            return run_blocking(preview, config, draft, values, backup, enabled, timeout=GATHER_TIMEOUT)

        def done(answer: Answer | None) -> None:
            if answer is not None:  # None: escape, Cancel: nothing runs
                self.launch(answer)

        self.app.push_screen(ActionConfirm(draft, dashboard_now(self.app, draft), config.deck.environment,
                                           check), done)

    def launch(self, answer: Answer) -> None:
        from launchdeck.tui.screens.action_run import ActionRunScreen

        if not words_match(answer.word, answer.plan.word) or self.running:
            self.app.notify("not started: the confirmation does not match", severity="warning", timeout=6)
            return
        if self.screen is not None:
            self._retired.append(self.screen)
        for old in [s for s in self._retired if s not in self.app.screen_stack]:  # a rollback's opens over
            self.app.uninstall_screen(old)                                       # its deploy's: later
            self._retired.remove(old)
        screen = ActionRunScreen(answer.plan, self.app._header(), self.names)
        inbox = LineInbox(screen.wake)
        self.run = ActionRun(self.app.config, answer, inbox.put, screen.finished_from_thread, live=self.app.engine)
        screen.attach(self.run, inbox)
        self.screen = screen
        # installed: escape back to the dashboard keeps it (and its output) for the action key to bring back
        self.app.install_screen(screen, f"action-run-{id(screen)}")
        self.app.push_screen(screen)
        self.run.start()

    def stop_for_exit(self, wait: float) -> None:
        """Quitting: cancel a running action and give it `wait` seconds to record its end and unlock."""
        if self.run is not None and self.run.running:
            self.run.cancel()
            self.run.join(wait)
