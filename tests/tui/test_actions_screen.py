"""Deploy, rollback and restore from the dashboard, driven by keys at 80x24 against real commands.

Each action's step is a small real program (a python one-liner writing a marker file, `sleep`),
the ledger a temporary file: a confirmed action leaves its marker and its `kind: "action"` records,
and every "no" (escape, Cancel, a wrong word, a value failing its pattern) leaves neither.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from textual.widgets import Input, Log, OptionList, Static

from launchdeck.actions.output import MEMORY_LINES
from launchdeck.audit.ledger import Ledger
from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Status
from launchdeck.tui.app import make_app
from launchdeck.tui.screens.action_confirm import ActionConfirm
from launchdeck.tui.screens.action_run import ActionRunScreen
from launchdeck.tui.screens.help import HelpScreen, help_text
from tests.fakes import FakeProbe
from tests.tui.helpers import wait_until

WRITE = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"


def deploy_writing(marker: Path, confirm: str = "typed") -> str:
    argv = [sys.executable, "-c", WRITE, str(marker), "{version}"]
    return (f"[actions.deploy]\nargv = {json.dumps(argv)}\nparams = {{ version = '^v[0-9]+$' }}\n"
            f'confirm = "{confirm}"\nwatch = "0s"\n')


def build(tmp_path: Path, actions: str, enabled: bool = True, allow: bool = False, probes=None):
    text = (f'[deck]\nname = "shop"\nenvironment = "staging"\n'
            f'[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/health"\n'
            f"[actions]\nenabled = {'true' if enabled else 'false'}\n{actions}")
    config = parse_config(text, str(tmp_path / "launchdeck.toml"), {})
    probes = probes if probes is not None else [FakeProbe("web")]
    return make_app(config, probes=probes, clock=FixedClock(), allow_actions=allow)


def ledger_of(tmp_path: Path) -> Path:
    return tmp_path / "launch-signoff.jsonl"


def action_records(tmp_path: Path) -> list:
    return [r for r in Ledger(ledger_of(tmp_path)).records() if r.kind == "action"]


def lock_file(tmp_path: Path) -> Path:
    return tmp_path / "launch-signoff.jsonl.action.lock"


async def type_into(pilot, screen, selector: str, text: str) -> None:
    screen.query_one(selector, Input).focus()
    await pilot.pause()
    await pilot.press(*text)


def help_words(screen: HelpScreen) -> str:
    console = Console(width=200, color_system=None)
    with console.capture() as captured:
        console.print(help_text(screen.sections, screen.actions, screen.panels))
    return captured.get()


async def open_confirm(pilot, app, key: str = "D") -> ActionConfirm:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, ActionConfirm))
    return app.screen


async def test_read_only_without_the_flag_no_key_no_palette_entry_reaches_an_action(tmp_path):
    marker = tmp_path / "marker"
    app = build(tmp_path, deploy_writing(marker) + '[actions.rollback]\nargv = ["true"]\n', enabled=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.actions.names == []
        assert not [b for b in app.active_bindings.values() if b.binding.action.startswith("start_action")]
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not {"Deploy", "Rollback", "Restore"} & set(titles)
        for key in ("D", "R", "S"):
            await pilot.press(key)
        await app.run_action("start_action('deploy')")  # what a stray markup link or a script could ask
        app.actions.start("deploy")  # and the flow itself refuses too
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ActionConfirm)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Actions" not in help_words(app.screen) and "deploy" not in help_words(app.screen)
    assert not marker.exists() and not ledger_of(tmp_path).exists()


async def test_enabled_keys_palette_and_help_list_only_the_configured_actions(tmp_path):
    app = build(tmp_path, deploy_writing(tmp_path / "m") + '[actions.rollback]\nargv = ["true"]\n', enabled=False,
                allow=True)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.actions.names == ["deploy", "rollback"]
        keys = {b.binding.key: b.binding.action for b in app.active_bindings.values()}
        assert keys.get("D") == "start_action('deploy')" and keys.get("R") == "start_action('rollback')"
        assert "S" not in keys  # no [actions.restore]: no key
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Deploy" in titles and "Rollback" in titles and "Restore" not in titles
        await pilot.press("question_mark")
        words = help_words(app.screen)
        # the help is built from the screen's bindings (tui/screens/help.py): the configured actions only
        assert "Deploy (confirmed first)" in words and "Rollback (confirmed first)" in words
        assert "Restore" not in words


async def test_confirmed_deploy_runs_its_step_and_records_it(tmp_path):
    marker = tmp_path / "marker"
    app = build(tmp_path, deploy_writing(marker))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(pilot, app)
        assert app.focused is not None and app.focused.id == "cancel"
        assert "staging" in str(screen.query_one("#word-label").render())
        subtitle = screen.query_one("Vertical").border_subtitle or ""  # on the frame: in view at 80x24
        assert "staging" in subtitle and "in the last field, then enter" in subtitle
        await type_into(pilot, screen, "#param-version", "v2")
        await wait_until(pilot, lambda: screen.plan is not None)
        steps = str(screen.query_one("#steps", Static).render())
        assert marker.name in steps and "v2" in steps and "on local" in steps
        await type_into(pilot, screen, "#word", "staging")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
        run = app.screen
        await wait_until(pilot, lambda: run.result is not None, timeout=20)
        assert run.result.outcome == "done", run.result.message
        assert "done" in str(run.query_one("#status", Static).render())
    assert marker.read_text() == "v2"
    records = action_records(tmp_path)
    events = [r.evidence["event"] for r in records]
    assert events == ["start", "step", "finish"]
    assert records[0].evidence["params"] == {"version": "v2"} and records[-1].evidence["outcome"] == "done"
    assert not lock_file(tmp_path).exists()


async def test_every_no_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    app = build(tmp_path, deploy_writing(marker))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_confirm(pilot, app)  # escape
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.dashboard)

        await open_confirm(pilot, app)  # Cancel, where the focus starts: enter presses it
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.dashboard)

        screen = await open_confirm(pilot, app)  # the wrong word
        await type_into(pilot, screen, "#param-version", "v3")
        await type_into(pilot, screen, "#word", "production")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "type staging exactly" in str(screen.query_one("#problem").render()))
        assert app.screen is screen
        await pilot.press("escape")

        screen = await open_confirm(pilot, app)  # a value failing its pattern
        await type_into(pilot, screen, "#param-version", "x1")
        await type_into(pilot, screen, "#word", "staging")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "^v[0-9]+$" in str(screen.query_one("#problem").render()))
        assert "x1" in str(screen.query_one("#problem").render()) and app.screen is screen
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.dashboard)
        await pilot.pause(0.5)
    assert not marker.exists()
    assert action_records(tmp_path) == []
    assert not lock_file(tmp_path).exists()


async def test_cancel_ends_a_long_step_releases_the_lock_and_runs_nothing_further(tmp_path):
    marker, pidfile = tmp_path / "marker", tmp_path / "pid"
    # `$$$$`: the config reads `$$` as a literal `$`, so the shell sees its own `$$` (its pid)
    steps = [["sh", "-c", f'echo $$$$ > "{pidfile}"; echo started; exec sleep 30'],
             [sys.executable, "-c", WRITE, str(marker), "after"]]
    actions = ('[actions.deploy]\nconfirm = "yes"\nwatch = "0s"\n'
               + "".join(f"[[actions.deploy.steps]]\nargv = {json.dumps(s)}\n" for s in steps))
    app = build(tmp_path, actions)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_confirm(pilot, app)
        await pilot.press("tab")  # from Cancel to the Run button: keyboard only
        assert app.focused is not None and app.focused.id == "confirm"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
        run = app.screen
        await wait_until(pilot, lambda: "started" in run.query_one(Log).lines, timeout=10)
        assert lock_file(tmp_path).exists()
        pid = int(pidfile.read_text())
        await pilot.press("q")  # quitting is refused while it runs: x cancels first
        await pilot.pause(0.2)
        assert app.is_running and app.screen is run
        await pilot.press("escape")  # back to the dashboard: it keeps running
        await wait_until(pilot, lambda: app.screen is app.dashboard)
        await pilot.press("D")  # the action key brings its screen back, output and all
        await wait_until(pilot, lambda: app.screen is run)
        assert "started" in run.query_one(Log).lines and run.result is None
        started = time.monotonic()
        await pilot.press("x")
        await wait_until(pilot, lambda: run.result is not None, timeout=10)
        assert time.monotonic() - started < 8
        assert run.result.outcome == "cancelled"
    try:
        os.kill(pid, 0)
        raise AssertionError("the step's process is still running")
    except ProcessLookupError:
        pass
    assert not lock_file(tmp_path).exists() and not marker.exists()
    finish = action_records(tmp_path)[-1].evidence
    assert finish["event"] == "finish" and finish["outcome"] == "cancelled"


def python_deploy(script: str) -> str:
    """A deploy whose one step is `python -c script`, confirmed with yes, no watch window."""
    return (f'[actions.deploy]\nargv = {json.dumps([sys.executable, "-c", script])}\nconfirm = "yes"\n'
            'watch = "0s"\n')


async def confirm_and_finish(pilot, app, timeout: float) -> ActionRunScreen:
    """Open the deploy's confirmation, confirm it, and wait for its run screen to have a result."""
    await open_confirm(pilot, app)
    await pilot.press("tab", "enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
    run = app.screen
    await wait_until(pilot, lambda: run.result is not None, timeout=timeout)
    return run


async def test_output_with_markup_and_escape_sequences_shows_as_text(tmp_path):
    app = build(tmp_path, python_deploy("print('[bold red]alert[/] \\x1b[2J\\x1b]0;owned\\x07 end')"))
    async with app.run_test(size=(80, 24)) as pilot:
        run = await confirm_and_finish(pilot, app, timeout=20)
        lines = run.query_one(Log).lines
        assert "[bold red]alert[/] ␛[2J␛]0;owned␇ end" in lines
        assert not any("\x1b" in line or "\x07" in line for line in lines)


async def test_a_held_lock_names_its_holder_instead_of_running(tmp_path):
    marker = tmp_path / "marker"
    holder = {"login": "alice", "host": "elsewhere-" + socket.gethostname(), "pid": 4242, "action": "deploy",
              "params": {"version": "v9"}, "started": time.time() - 180, "token": "x"}
    lock_file(tmp_path).write_text(json.dumps(holder))
    app = build(tmp_path, deploy_writing(marker))
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (said.append(message), notify(message, **kw))  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("D")
        await wait_until(pilot, lambda: any("held by alice@" in s for s in said))
        assert not isinstance(app.screen, ActionConfirm)
        assert any("deploy version=v9 for 3m" in s for s in said)
    assert not marker.exists() and action_records(tmp_path) == []
    assert json.loads(lock_file(tmp_path).read_text())["login"] == "alice"  # never touched


async def test_rollback_shows_the_previous_good_version_and_does_not_ask_for_it(tmp_path):
    marker = tmp_path / "marker"
    ledger = Ledger(ledger_of(tmp_path))
    for version in ("v1", "v2"):
        ledger.append(checklist="actions", item_id="deploy", item_text=f"deploy version={version}", kind="action",
                      evidence={"event": "finish", "action": "deploy", "run": version,
                                "params": {"version": version}, "outcome": "done"})
    argv = [sys.executable, "-c", WRITE, str(marker), "{version}"]
    app = build(tmp_path, deploy_writing(tmp_path / "unused")
                + f'[actions.rollback]\nargv = {json.dumps(argv)}\nconfirm = "yes"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(pilot, app, "R")
        steps = str(screen.query_one("#steps", Static).render())
        assert "rolling back from v2 to v1" in steps
        assert not screen.query(Input).filter("#param-version")
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
        await wait_until(pilot, lambda: app.screen.result is not None, timeout=20)
    assert marker.read_text() == "v1"


async def test_the_confirmation_shows_what_the_dashboard_says_now(tmp_path):
    down = FakeProbe("web", [Outcome(Status.CRIT, "HTTP 503, expected 200")])
    app = build(tmp_path, deploy_writing(tmp_path / "marker"), probes=[down])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 1)
        screen = await open_confirm(pilot, app)
        assert "services web: crit: HTTP 503" in str(screen.query_one("#state", Static).render())
        await pilot.press("escape")


async def test_restore_offers_the_backups_of_its_source(tmp_path):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    for index, name in enumerate(("shop_1.dump", "shop_2.dump")):
        (dumps / name).write_bytes(b"PGDMP" + b"\0" * 10)
        os.utime(dumps / name, (time.time() - 3600 + index * 60,) * 2)
    actions = ('[actions.restore]\nkind = "postgres"\ndsn = "postgresql://r@127.0.0.1:9/shop"\n'
               'backups = "main_db"\n')
    backups = f'[[backups]]\nname = "main_db"\npath = "{dumps}"\npattern = "*.dump"\n'
    text = (f'[deck]\nname = "shop"\nenvironment = "staging"\n{backups}'
            f"[actions]\nenabled = true\n{actions}")
    config = parse_config(text, str(tmp_path / "launchdeck.toml"), {})
    app = make_app(config, probes=[], clock=FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(pilot, app, "S")
        options = screen.query_one(OptionList)
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == ["shop_2.dump",
                                                                                             "shop_1.dump"]
        assert "type shop" in str(screen.query_one("#word-label").render())
        await wait_until(pilot, lambda: screen.plan is not None)
        assert "shop_2.dump" in str(screen.query_one("#steps", Static).render())
        await pilot.press("escape")
    assert action_records(tmp_path) == []


async def test_a_restore_runbook_runs_with_the_backup_chosen_from_the_list(tmp_path):
    """backups = "main_db" on a steps restore: no field to type the dump in; the list offers the source's
    files newest first, and the one highlighted is the path its step receives."""
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    for index, name in enumerate(("shop_1.dump", "shop_2.dump", "shop_3.dump")):
        (dumps / name).write_bytes(b"PGDMP" + b"\0" * 10)
        os.utime(dumps / name, (time.time() - 3600 + index * 60,) * 2)
    marker = tmp_path / "restored"
    argv = [sys.executable, "-c", WRITE, str(marker), "{backup}"]
    actions = f'[actions.restore]\nbackups = "main_db"\nconfirm = "yes"\nargv = {json.dumps(argv)}\n'
    backups = f'[[backups]]\nname = "main_db"\npath = "{dumps}"\npattern = "*.dump"\n'
    text = f'[deck]\nname = "shop"\nenvironment = "staging"\n{backups}[actions]\nenabled = true\n{actions}'
    app = make_app(parse_config(text, str(tmp_path / "launchdeck.toml"), {}), probes=[], clock=FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(pilot, app, "S")
        assert not screen.query("#param-backup")
        options = screen.query_one(OptionList)
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == [
            "shop_3.dump", "shop_2.dump", "shop_1.dump"]
        options.focus()
        await pilot.press("down")
        await wait_until(pilot, lambda: screen.plan is not None and screen.plan.params == {"backup": "shop_2.dump"})
        assert str(dumps / "shop_2.dump") in str(screen.query_one("#steps", Static).render())
        screen.query_one("#confirm").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
        await wait_until(pilot, lambda: app.screen.result is not None, timeout=20)
        assert app.screen.result.outcome == "done", app.screen.result.message
    assert marker.read_text() == str(dumps / "shop_2.dump")


def good_deploy_of_v1(tmp_path: Path) -> None:
    """The ledger says v1 was deployed and its watch window passed: rollback's target."""
    Ledger(ledger_of(tmp_path)).append(
        checklist="actions", item_id="deploy", item_text="deploy version=v1", kind="action",
        evidence={"event": "finish", "action": "deploy", "run": "r1", "params": {"version": "v1"}, "outcome": "done"})


async def deploy_v2(pilot, app) -> ActionRunScreen:
    """Deploy v2 through the confirmation; the run screen it opens."""
    screen = await open_confirm(pilot, app)
    await type_into(pilot, screen, "#param-version", "v2")
    screen.query_one("#confirm").focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
    return app.screen


class BrokenByTheDeploy(FakeProbe):
    """web answers 200 until the deploy's step has written its marker, then 503: what the dashboard's
    engine sees, and so what the watch window reads (it polls nothing of its own in the dashboard)."""

    def __init__(self, marker: Path) -> None:
        super().__init__("web", interval=0.2)
        self.marker = marker

    async def collect(self) -> Outcome:
        self.calls += 1
        if self.marker.exists():
            return Outcome(Status.CRIT, "HTTP 503, expected 200")
        return Outcome(Status.OK, "HTTP 200")


async def test_a_breached_watch_window_offers_the_rollback(tmp_path):
    """The deploy's step succeeds, then the watch window sees web crit (the dashboard's own reading):
    breached, and R on the run screen opens the rollback's confirmation, to v1."""
    good_deploy_of_v1(tmp_path)
    actions = deploy_writing(tmp_path / "marker", confirm="yes").replace('watch = "0s"', 'watch = "30s"')
    app = build(tmp_path, actions + '[actions.rollback]\nargv = ["true", "{version}"]\nconfirm = "yes"\n',
                probes=[BrokenByTheDeploy(tmp_path / "marker")])
    async with app.run_test(size=(80, 24)) as pilot:
        run = await deploy_v2(pilot, app)
        await wait_until(pilot, lambda: run.watch_started is not None, timeout=10)
        await wait_until(pilot, lambda: run.result is not None, timeout=25)
        assert run.result.outcome == "breached" and "services web" in run.result.message
        status = str(run.query_one("#status", Static).render())
        assert "R rolls back" in status and "␤" not in status
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionConfirm))
        assert "rolling back from v2 to v1" in str(app.screen.query_one("#steps", Static).render())
        await pilot.press("escape")
    assert (tmp_path / "marker").read_text() == "v2"
    finish = action_records(tmp_path)[-1].evidence
    assert finish["outcome"] == "breached" and finish["watch"]["passed"] is False


def dead_pid() -> int:
    """The pid of a process that has ended: a holder on this host that is gone (a SIGKILLed `act`)."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


async def test_a_stale_lock_is_broken_only_with_a_reason_which_is_recorded(tmp_path):
    holder = {"login": "bob", "host": socket.gethostname(), "pid": dead_pid(), "action": "deploy", "params": {},
              "started": time.time() - 600, "token": "dead"}
    lock_file(tmp_path).write_text(json.dumps(holder))
    marker = tmp_path / "marker"
    app = build(tmp_path, deploy_writing(marker, confirm="yes"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(pilot, app)
        assert "held by bob@" in str(screen.query_one("#state", Static).render())
        await type_into(pilot, screen, "#param-version", "v4")
        screen.query_one("#confirm").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "needs a reason" in str(screen.query_one("#problem").render()))
        assert app.screen is screen and not marker.exists()
        await type_into(pilot, screen, "#break-lock", "bob rebooted")
        screen.query_one("#confirm").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
        await wait_until(pilot, lambda: app.screen.result is not None, timeout=20)
        assert app.screen.result.outcome == "done", app.screen.result.message
    assert marker.read_text() == "v4" and not lock_file(tmp_path).exists()
    broken = [r for r in action_records(tmp_path) if r.evidence["event"] == "lock-broken"]
    assert len(broken) == 1 and broken[0].reason == "bob rebooted" and broken[0].evidence["holder"]["login"] == "bob"


async def test_the_phase_gate_needs_a_reason_and_the_dashboard_state_is_recorded(tmp_path):
    """Pre-launch items open: the confirmation names them and a late backup; Run without a reason is
    refused (no marker), with one it runs and the start record carries the gate and the warnings."""
    (tmp_path / "pre.md").write_text("# Pre-launch checklist\n\n- [ ] Backups verified\n- [ ] DNS switched\n")
    probes = [FakeProbe("web"), FakeProbe("main_db", [Outcome(Status.CRIT, "older than max_age 26h")], panel="backups")]
    marker = tmp_path / "marker"
    source = ('[deck]\nname = "shop"\nenvironment = "staging"\n[checklists]\nfiles = ["pre.md"]\n'
              f"[actions]\nenabled = true\n{deploy_writing(marker, confirm='yes')}")
    app = make_app(parse_config(source, str(tmp_path / "launchdeck.toml"), {}), probes=probes, clock=FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 2)
        screen = await open_confirm(pilot, app)
        state = str(screen.query_one("#state", Static).render())
        assert "pre-launch: 2 of 2 items not signed: Backups verified; DNS switched" in state
        assert "phase gate: the pre-launch checklist is incomplete: 2 item(s) open" in state
        assert "backups main_db: crit: older than max_age 26h" in state
        await type_into(pilot, screen, "#param-version", "v5")
        screen.query_one("#confirm").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "give a reason above" in str(screen.query_one("#problem").render()))
        await pilot.pause(0.3)
        assert app.screen is screen and not marker.exists()
        await type_into(pilot, screen, "#override", "DNS done by hand")
        screen.query_one("#confirm").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
        await wait_until(pilot, lambda: app.screen.result is not None, timeout=20)
    assert marker.read_text() == "v5"
    start = action_records(tmp_path)[0].evidence
    assert start["event"] == "start" and start["gate"]["overridden"] is True
    assert start["gate"]["override_reason"] == "DNS done by hand" and len(start["gate"]["open"]) == 2
    assert "backups main_db: crit: older than max_age 26h" in start["warnings"]


def runbook_with_optional(marker: Path, extra: Path) -> str:
    return ('[actions.deploy]\nconfirm = "yes"\nwatch = "0s"\n'
            f"[[actions.deploy.steps]]\nargv = {json.dumps([sys.executable, '-c', WRITE, str(marker), 'main'])}\n"
            f'[[actions.deploy.steps]]\nname = "migrate"\nconfirm = "run the migration?"\n'
            f"argv = {json.dumps([sys.executable, '-c', WRITE, str(extra), 'migrated'])}\n")


async def deploy_once(folder: Path, tick: bool) -> None:
    app = build(folder, runbook_with_optional(folder / "marker", folder / "extra"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(pilot, app)
        assert "(optional: run the migration?)" in str(screen.query_one("#steps", Static).render())
        if tick:
            screen.query_one("#optional-1").focus()
            await pilot.press("space")
        screen.query_one("#confirm").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
        await wait_until(pilot, lambda: app.screen.result is not None, timeout=20)
        assert app.screen.result.outcome == "done"


async def test_an_optional_step_runs_only_when_ticked(tmp_path):
    for ticked in (False, True):
        folder = tmp_path / str(ticked)
        folder.mkdir()
        await deploy_once(folder, ticked)
        assert (folder / "marker").read_text() == "main"
        assert (folder / "extra").exists() is ticked
        events = [r.evidence["event"] for r in action_records(folder)]
        assert events == (["start", "step", "step", "finish"] if ticked else ["start", "step", "skipped", "finish"])


async def test_auto_rollback_runs_when_the_config_says_so(tmp_path):
    good_deploy_of_v1(tmp_path)
    rolled = tmp_path / "rolled"
    actions = deploy_writing(tmp_path / "marker", confirm="yes").replace(
        'watch = "0s"', 'watch = "30s"\nauto_rollback = true')
    argv = [sys.executable, "-c", WRITE, str(rolled), "{version}"]
    app = build(tmp_path, actions + f'[actions.rollback]\nargv = {json.dumps(argv)}\n',
                probes=[BrokenByTheDeploy(tmp_path / "marker")])
    async with app.run_test(size=(80, 24)) as pilot:
        run = await deploy_v2(pilot, app)
        await wait_until(pilot, lambda: run.result is not None, timeout=25)
        assert run.result.outcome == "breached"  # the deploy's result stands
        assert "automatic rollback to v1: done" in " ".join(run.result.problems)
    assert rolled.read_text() == "v1"
    finishes = [r.evidence for r in action_records(tmp_path) if r.evidence["event"] == "finish"]
    assert [(f["action"], f["outcome"]) for f in finishes] == [("deploy", "done"), ("deploy", "breached"),
                                                               ("rollback", "done")]


async def test_rollback_without_a_previous_good_version_is_refused_before_any_screen(tmp_path):
    marker = tmp_path / "marker"
    argv = [sys.executable, "-c", WRITE, str(marker), "{version}"]
    app = build(tmp_path, deploy_writing(tmp_path / "unused") + f'[actions.rollback]\nargv = {json.dumps(argv)}\n')
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (said.append(message), notify(message, **kw))  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("R")
        await wait_until(pilot, lambda: any("no previous good version" in s for s in said))
        assert app.screen is app.dashboard
    assert not marker.exists() and action_records(tmp_path) == []


async def test_a_long_output_is_capped_on_screen_and_ends_with_its_last_line(tmp_path):
    app = build(tmp_path, python_deploy("import sys\nfor i in range(20000): sys.stdout.write('line %05d\\n' % i)"))
    async with app.run_test(size=(80, 24)) as pilot:
        run = await confirm_and_finish(pilot, app, timeout=30)
        await pilot.pause(0.2)
        lines = run.query_one(Log).lines
        assert len(lines) <= MEMORY_LINES + 1 and "line 19999" in lines
        assert run.result.outcome == "done"
    log = Path(run.result.log)
    assert sum(x.startswith("line ") for x in log.read_text().splitlines()) == 20000  # every line is in the file


async def test_a_stale_lock_whose_step_still_runs_offers_to_kill_it_and_records_that(tmp_path):
    """A SIGKILLed holder left its step running in its own process group: the confirmation says so and
    offers to kill it as part of breaking the lock; ticked, the group is ended and the record says so."""
    from textual.widgets import Checkbox

    from launchdeck.actions import lock as locks

    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)  # noqa: ASYNC220 - starts at once, no wait
    try:
        holder = {"login": "bob", "host": socket.gethostname(), "boot_id": locks.boot_id(), "pid": dead_pid(),
                  "action": "deploy", "params": {}, "started": time.time() - 600, "token": "dead",
                  "step": "migrate", "step_host": "local", "step_pgid": orphan.pid,
                  "step_pgid_start": locks.process_start(orphan.pid)}
        lock_file(tmp_path).write_text(json.dumps(holder))
        marker = tmp_path / "marker"
        app = build(tmp_path, deploy_writing(marker, confirm="yes"))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_confirm(pilot, app)
            state = str(screen.query_one("#state", Static).render())
            assert f"its step migrate is still running (process group {orphan.pid})" in state, state
            box = screen.query_one("#kill-orphan", Checkbox)
            assert str(orphan.pid) in str(box.label) and not box.value
            await type_into(pilot, screen, "#param-version", "v4")
            await type_into(pilot, screen, "#break-lock", "bob's terminal was SIGKILLed")
            box.value = True
            screen.query_one("#confirm").focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
            await wait_until(pilot, lambda: app.screen.result is not None, timeout=20)
            assert app.screen.result.outcome == "done", app.screen.result.message
        assert orphan.wait(timeout=5) is not None, "the orphaned step was killed"
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
    assert marker.read_text() == "v4" and not lock_file(tmp_path).exists()
    [broken] = [r for r in action_records(tmp_path) if r.evidence["event"] == "lock-broken"]
    assert broken.evidence["orphan_killed"] == orphan.pid and broken.reason == "bob's terminal was SIGKILLed"


async def test_the_dashboard_start_warns_about_a_watch_window_too_short_to_see_a_breach(tmp_path):
    traffic = '[[traffic]]\nname = "checkout"\nsource = "scrape"\nscrape_url = "http://127.0.0.1:9/metrics"\n'
    short = deploy_writing(tmp_path / "m").replace('watch = "0s"', 'watch = "5m"')
    probes = [FakeProbe("web"), FakeProbe("checkout", panel="traffic")]
    app = build(tmp_path, short + traffic, probes=probes)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        said = [n.message for n in app._notifications]
    assert any("actions.deploy.watch 5m is not longer than traffic checkout's error_ratio_for 5m" in m
               for m in said), said
    app = build(tmp_path, short + traffic, enabled=False, probes=probes)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not [n for n in app._notifications if "watch" in n.message], "read-only: no actions, no warning"


async def test_the_confirmation_names_the_targets_a_narrowed_watch_window_judges(tmp_path):
    narrowed = deploy_writing(tmp_path / "m").replace('watch = "0s"', 'watch = "30s"\nwatch_services = ["web"]\n'
                                                                       'watch_traffic = []')
    app = build(tmp_path, narrowed)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(pilot, app)
        await type_into(pilot, screen, "#param-version", "v2")
        await wait_until(pilot, lambda: screen.plan is not None)
        assert "then a watch window of 30s on web; no traffic" in str(screen.query_one("#steps", Static).render())
        await pilot.press("escape")
    assert action_records(tmp_path) == []
