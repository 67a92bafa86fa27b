"""The confirmation of deploy, rollback or restore: everything that will run, and what the dashboard says now.

Focus starts on Cancel, so enter alone never runs anything. The rendered argv of every step, its
host and the parameters are shown as they will run (built by actions/plan.py on the pool as the
values are typed); a typed value is checked against its pattern and refused with the pattern
shown; a `typed` confirmation needs the exact word. Every way out but a valid Confirm (escape,
Cancel, a wrong word, a bad value) dismisses with None or stays: nothing runs.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Awaitable, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from launchdeck.actions.gates import Gate, settle
from launchdeck.actions.plan import Plan
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.units import format_size
from launchdeck.tui.flows.actions import Answer, Draft, words_match
from launchdeck.tui.palette import CRIT, KEY, MUTED, OK, WARN, styled

SEVERITY = {"crit": CRIT, "warn": WARN, "ok": OK}
PREVIEW_PAUSE = 0.15  # s of quiet typing before the plan is rebuilt

Check = Callable[[dict[str, str], "str | None"], Awaitable[Plan]]


def steps_text(plan: Plan | None, draft: Draft) -> Content:
    """Every step as it will run (or, until the values are valid, its template), one per line."""
    parts: list[Content] = []
    if plan is None:
        for index, (name, where, argv) in enumerate(draft.templates):
            parts.append(styled(f"{index + 1}. {name} on {where}: ", "bold") + styled(argv))
        if draft.asked:
            parts.append(styled("(the {names} are filled in once every value matches its pattern)", MUTED))
        return Content("\n").join(parts)
    for index, step in enumerate(plan.steps):
        where = step.host.name if step.host else "local"
        optional = styled(f"  (optional: {step.question})", WARN) if step.question else Content("")
        parts.append(styled(f"{index + 1}. {step.name} on {where}: ", "bold") + styled(shlex.join(step.display))
                     + optional)
    params = " ".join(f"{k}={v}" for k, v in plan.params.items())
    if params:
        parts.append(styled("parameters: ", "bold") + styled(params))
    for note in plan.notes:
        parts.append(styled(note, KEY))
    if plan.watch > 0:
        spec = plan.spec
        if spec.watch_services is None and spec.watch_traffic is None:
            what = "services and traffic"
        else:  # the deploy's own choice: name what is judged
            services = "all services" if spec.watch_services is None else ", ".join(spec.watch_services) or "no service"
            traffic = "all traffic" if spec.watch_traffic is None else ", ".join(spec.watch_traffic) or "no traffic"
            what = f"{services}; {traffic}"
        parts.append(styled(f"then a watch window of {plan.watch:g}s on {what}", MUTED))
    return Content("\n").join(parts)


class ActionConfirm(ModalScreen[Answer | None]):
    """Returns the confirmed Answer, or None: nothing is run from here."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#cancel"  # enter alone never runs anything
    DEFAULT_CSS = """
    ActionConfirm { align: center middle; background: $background; }
    ActionConfirm > Vertical { width: 96%; max-width: 110; height: auto; max-height: 96%;
                               border: thick $error; background: $surface; padding: 0 1; }
    ActionConfirm VerticalScroll { height: auto; max-height: 70vh; }
    ActionConfirm .section { color: $text-muted; margin-top: 1; width: 100%; }  /* a long label wraps at 80x24 */
    ActionConfirm .first { margin-top: 0; }
    ActionConfirm Input { margin: 0; }
    ActionConfirm OptionList { height: auto; max-height: 6; }
    ActionConfirm #problem { color: $text-error; height: auto; }
    ActionConfirm Horizontal { height: auto; align-horizontal: right; }
    ActionConfirm Button { margin-left: 1; }
    """

    def __init__(self, draft: Draft, dashboard: list[tuple[str, str]], environment: str, check: Check) -> None:
        super().__init__()
        self.draft = draft
        self.dashboard = dashboard
        self.environment = environment
        self.check = check
        self.plan: Plan | None = draft.plan

    def compose(self) -> ComposeResult:
        draft = self.draft
        with Vertical() as box:
            box.border_title = styled(f"{draft.action} on {self.environment}: confirm", "bold")
            box.border_subtitle = self._subtitle(draft.word)
            with VerticalScroll():
                yield Label("steps", classes="section first")
                yield Static(steps_text(self.plan, draft), id="steps")
                yield Label("the dashboard now", classes="section")
                yield Static(Content("\n").join(styled(text, SEVERITY[sev]) for sev, text in self.dashboard),
                             id="state")
                for name, pattern in draft.asked.items():
                    yield Label(styled(f"{name} (must match {pattern})"), classes="section")
                    yield Input(id=f"param-{name}", placeholder=name)
                if draft.backups:
                    yield Label("backup to restore (newest first)", classes="section")
                    yield OptionList(*[Option(styled(f"{b.name}  {b.taken_at}  {format_size(b.size)}"), id=b.name)
                                       for b in draft.backups], id="backups")
                for index, step in enumerate(draft.spec.runbook()):
                    if step.confirm:
                        yield Checkbox(styled(f"{step.name or f'step {index + 1}'}: {step.confirm}"),
                                       id=f"optional-{index}")
                if draft.gate is not None and draft.gate.closed:
                    yield Label(styled("the pre-launch checklist is incomplete: deploy anyway only with a reason",
                                       CRIT), classes="section")
                    yield Input(id="override", placeholder="why deploying now is right (required, recorded)")
                if draft.lock_stale:
                    yield Label(styled("the action lock is stale (its holder is gone): a reason to break it", CRIT),
                                classes="section")
                    yield Input(id="break-lock", placeholder="why breaking it is safe (required, recorded)")
                    if draft.lock_orphan is not None:
                        yield Checkbox(styled(f"its step is still running (process group {draft.lock_orphan}): "
                                              "kill it first (recorded; else the lock is not broken)"),
                                       id="kill-orphan")
                yield Input(id="reason", placeholder="reason (optional, recorded in the ledger)")
                if draft.spec.confirm == "typed":  # last: the word, then enter, is the confirmation
                    yield Label(styled("type ", "bold") + styled(self.draft.word, CRIT)
                                + styled(" to confirm (exactly; case matters)", "bold"),
                                id="word-label", classes="section")
                    yield Input(id="word", placeholder="the word above")
            yield Static(styled(draft.problem or ""), id="problem")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(f"Run {draft.action}", id="confirm", variant="error")

    def _subtitle(self, word: str) -> Content:
        """On the frame, always in view at 80x24: what Run needs when the word field is scrolled away."""
        if self.draft.spec.confirm != "typed":
            return Content("")
        return styled("type ") + styled(word, CRIT) + styled(" in the last field, then enter")

    def on_mount(self) -> None:
        if self.draft.backups:
            self.query_one(OptionList).highlighted = 0

    # ------------------------------------------------------------------ what the operator gives
    def values(self) -> dict[str, str]:
        return {name: self.query_one(f"#param-{name}", Input).value for name in self.draft.asked}

    def backup(self) -> str | None:
        if not self.draft.backups:
            return None
        index = self.query_one(OptionList).highlighted
        return self.draft.backups[index or 0].name

    def include(self) -> frozenset[str]:
        steps = self.draft.spec.runbook()
        return frozenset(step.name or f"step {i + 1}" for i, step in enumerate(steps)
                         if step.confirm and self.query_one(f"#optional-{i}", Checkbox).value)

    def bad_value(self) -> str | None:
        """The first typed value failing its pattern, worded with the pattern."""
        for name, value in self.values().items():
            pattern = self.draft.asked[name]
            if re.fullmatch(pattern, value) is None:
                shown = f"{name}={value}" if value else f"{name} (empty)"
                return f"refused: {shown} does not match its pattern {pattern}"
        return None

    def _say(self, problem: str) -> None:
        self.query_one("#problem", Static).update(styled(problem))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("param-"):
            self.plan = None
            self.run_worker(self._preview(pause=True), group="preview", exclusive=True, exit_on_error=False)

    def on_option_list_option_highlighted(self, _event: OptionList.OptionHighlighted) -> None:
        self.plan = None
        self.run_worker(self._preview(pause=False), group="preview", exclusive=True, exit_on_error=False)

    async def _preview(self, pause: bool) -> None:
        if pause:
            await asyncio.sleep(PREVIEW_PAUSE)
        problem = self.bad_value()
        plan = None
        if problem is None:
            try:
                plan = await self.check(self.values(), self.backup())
            except (LaunchdeckError, TimeoutError) as error:
                problem = str(error) or "the plan could not be built in time"
        self.plan = plan
        self.query_one("#steps", Static).update(steps_text(plan, self.draft))
        self._say(problem or "")
        if plan is not None and self.draft.spec.confirm == "typed" and plan.word != self.draft.word:
            self.draft.word = plan.word
            self.query_one(Vertical).border_subtitle = self._subtitle(plan.word)
            self.query_one("#word-label", Label).update(styled("type ", "bold") + styled(plan.word, CRIT)
                                                        + styled(" to confirm (exactly; case matters)", "bold"))

    # ------------------------------------------------------------------ the two ways out
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self.run_worker(self._confirm(), group="confirm", exclusive=True, exit_on_error=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "word":  # enter in the word field is the same as Confirm
            self.run_worker(self._confirm(), group="confirm", exclusive=True, exit_on_error=False)

    async def _confirm(self) -> None:
        """Everything checked again, here and now; any failure says why and runs nothing."""
        self.workers.cancel_group(self, "preview")  # a late preview must not wipe this answer's refusal
        problem = self.bad_value()
        if problem:
            self._say(problem)
            return
        try:
            plan = await self.check(self.values(), self.backup())
        except (LaunchdeckError, TimeoutError) as error:
            self._say(f"refused: {error}" if str(error) else "refused: the plan could not be built in time")
            return
        if self.draft.spec.confirm == "typed":
            typed = self.query_one("#word", Input).value
            if not words_match(typed, plan.word):
                self._say(f"refused: type {plan.word} exactly to run {plan.summary()}")
                self.query_one("#word", Input).focus()
                return
        else:
            typed = plan.word  # confirm = "yes": pressing the button is the yes
        reason = self.query_one("#reason", Input).value.strip() or None
        override = None
        if self.draft.gate is not None and self.draft.gate.closed:
            override = self.query_one("#override", Input).value.strip() or None
            if override is None:
                self._say(f"refused: {self.draft.gate.words()}; give a reason above to deploy anyway (recorded)")
                self.query_one("#override", Input).focus()
                return
        try:  # the gate and the warnings go on the plan: the start record carries them
            settle(plan, self.draft.gate or Gate(False), self.draft.warnings, override)
        except LaunchdeckError as error:
            self._say(f"refused: {error}")
            self.query_one("#override", Input).focus()
            return
        breaking = None
        if self.draft.lock_stale:
            breaking = self.query_one("#break-lock", Input).value.strip()
            if not breaking:
                self._say("refused: breaking the stale lock needs a reason (it is recorded in the ledger)")
                self.query_one("#break-lock", Input).focus()
                return
        kill = self.draft.lock_orphan is not None and self.query_one("#kill-orphan", Checkbox).value
        self.dismiss(Answer(plan, typed, self.include(), reason, breaking, kill))

    def action_cancel(self) -> None:
        self.dismiss(None)
