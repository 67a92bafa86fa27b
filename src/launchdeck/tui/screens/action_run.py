"""A running action: its output as it comes, the watch window's progress, how it ended.

The output is command output, user text: each line arrives already made printable by
actions/output.py and goes into a Log widget (line-API, never markup, capped at MEMORY_LINES; the
log file keeps every byte). `x` cancels: the flow kills the running step's process group, runs
nothing further, records the finish and releases the lock. escape goes back to the dashboard while
it runs (the action key brings this screen back); a breached deploy offers `R` to roll back.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from launchdeck.actions.flow import ActionResult
from launchdeck.actions.output import MEMORY_LINES
from launchdeck.actions.plan import Plan
from launchdeck.core.plain import visible
from launchdeck.tui.palette import CRIT, INFO, MUTED, OK, WARN, styled
from launchdeck.tui.widgets.header import DeckHeader

if TYPE_CHECKING:
    from launchdeck.tui.flows.actions import ActionRun, LineInbox

OUTCOME_STYLE = {"done": OK, "breached": WARN, "cancelled": WARN}
WATCH_PREFIX = "watch window: "  # actions/watch.py's first line: the window has begun


class LinesWaiting(Message, bubble=False):
    """Output is waiting in the inbox (one such message at a time)."""


class ActionEnded(Message, bubble=False):
    def __init__(self, result: ActionResult) -> None:
        super().__init__()
        self.result = result


class ActionRunScreen(Screen):
    BINDINGS = [
        Binding("x", "cancel_action", "Cancel action"),
        Binding("escape", "back", "Dashboard"),
        Binding("R", "rollback", "Roll back"),
    ]
    DEFAULT_CSS = """
    ActionRunScreen #what { height: auto; padding: 0 1; }
    ActionRunScreen #status { height: auto; padding: 0 1; }
    ActionRunScreen Log { height: 1fr; border: round $primary-darken-1; }
    """

    def __init__(self, plan: Plan, header: DeckHeader, actions: list[str]) -> None:
        super().__init__(classes="action-run")  # no id: a rollback's run screen opens over the deploy's
        self.plan = plan
        self._header = header
        self.actions = actions
        self.run: ActionRun | None = None
        self.inbox: LineInbox | None = None
        self.result: ActionResult | None = None
        self.started = time.monotonic()
        self.watch_started: float | None = None

    def attach(self, run: ActionRun, inbox: LineInbox) -> None:
        self.run, self.inbox = run, inbox

    # ------------------------------------------------------------------ from the action's thread
    def wake(self) -> None:
        self.post_message(LinesWaiting())  # thread-safe

    def finished_from_thread(self, result: ActionResult) -> None:
        self.post_message(ActionEnded(result))

    # ------------------------------------------------------------------ on the UI loop
    def compose(self) -> ComposeResult:
        yield self._header
        yield Static(styled(self.plan.summary(), "bold"), id="what")
        yield Static(styled("running…", INFO), id="status")
        yield Log(max_lines=MEMORY_LINES, id="output")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self.query_one(Log).focus()
        self._drain()
        if self.result is not None:
            self._show_result(self.result)

    def on_lines_waiting(self, _message: LinesWaiting) -> None:
        self._drain()

    def _drain(self) -> None:
        if self.inbox is None:
            return
        lines, dropped = self.inbox.take()
        if not lines and not dropped:
            return
        out = []
        if dropped:
            out.append(f"[launchdeck] … {dropped} lines not shown here (the log file has them)")
        for stream, line in lines:
            if stream == "launchdeck" and line.startswith(WATCH_PREFIX) and self.watch_started is None:
                self.watch_started = time.monotonic()
            out.append(visible(f"[launchdeck] {line}" if stream == "launchdeck" else line))
        self.query_one(Log).write_lines(out)

    def _tick(self) -> None:
        if self.result is not None:
            return
        took = time.monotonic() - self.started
        if self.watch_started is not None and self.plan.watch > 0:
            gone = time.monotonic() - self.watch_started
            text = f"watch window: {min(gone, self.plan.watch):.0f}s of {self.plan.watch:g}s (x cancels)"
        else:
            text = f"running for {took:.0f}s (x cancels: the step's process group is killed, nothing further runs)"
        self.query_one("#status", Static).update(styled(text, INFO))

    def on_action_ended(self, message: ActionEnded) -> None:
        self.result = message.result
        self._drain()
        self._show_result(message.result)
        result = message.result
        severity = "information" if result.outcome == "done" else "warning" if result.outcome in (
            "breached", "cancelled") else "error"
        self.app.notify(f"{self.plan.summary()}: {result.outcome}: {result.message}", title=self.plan.action,
                        severity=severity, timeout=30)
        self.refresh_bindings()

    def _show_result(self, result: ActionResult) -> None:
        lines = [styled(f"{result.outcome}: ", "bold " + OUTCOME_STYLE.get(result.outcome, CRIT))
                 + styled(result.message)]
        if result.watch:
            watch = result.watch
            said = "passed" if watch.get("passed") else f"breached: {watch.get('breach')}" if watch.get("breach") \
                else "not passed"
            lines.append(styled(f"watch window {watch.get('seconds')}s: {said}", MUTED))
        lines += [styled(f"warning: {problem}", WARN) for problem in result.problems]
        if result.log:
            lines.append(styled(f"log: {result.log} (sha256 {result.log_sha256})", MUTED))
        if result.outcome == "breached" and "rollback" in self.actions:
            lines.append(styled("R rolls back to the previous good version (confirmed first)", "bold"))
        lines.append(styled("escape: back to the dashboard", MUTED))
        self.query_one("#status", Static).update(Content("\n").join(lines))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_action":
            return self.result is None
        if action == "rollback":
            return self.result is not None and self.result.outcome == "breached" and "rollback" in self.actions
        return True

    def action_cancel_action(self) -> None:
        if self.run is not None and self.result is None:
            self.run.cancel()
            self.query_one("#status", Static).update(styled("cancelling: ending the step's process group…", WARN))

    def action_back(self) -> None:
        self.app.pop_screen()

    async def action_rollback(self) -> None:
        """Through the app's own action: refused there too unless rollback is enabled and configured."""
        self.app.pop_screen()
        await self.app.run_action("start_action('rollback')")
